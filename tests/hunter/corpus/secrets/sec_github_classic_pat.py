# mypy: ignore-errors
import requests

HEADERS = {"Authorization": "token ghp_e1EU6rKbOrsVclNOErom8ftEsRGq9BsFy8aU"}
requests.get("https://api.github.com/user/repos", headers=HEADERS, timeout=10)
