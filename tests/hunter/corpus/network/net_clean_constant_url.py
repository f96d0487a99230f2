# mypy: ignore-errors
import requests

resp = requests.get("https://api.github.com/repos/jupyter/notebook", timeout=10)
stars = resp.json()["stargazers_count"]
