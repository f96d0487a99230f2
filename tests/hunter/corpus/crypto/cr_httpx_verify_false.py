# mypy: ignore-errors
import httpx

client = httpx.Client(verify=False, timeout=5.0)
print(client.get("https://grafana.lab.internal/api/health").status_code)
