# mypy: ignore-errors
import requests

status = requests.get("http://127.0.0.1:8888/api/status", timeout=3).json()
