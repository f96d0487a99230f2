# mypy: ignore-errors
import requests

resp = requests.get("https://registry.lab.internal/v2/_catalog", verify=False, timeout=10)
print(resp.json())
