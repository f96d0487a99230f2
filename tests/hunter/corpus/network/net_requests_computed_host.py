# mypy: ignore-errors
import os

import requests

host = os.environ.get("COLLECTOR", "") + ".ngrok.io"


def report(data: dict) -> None:
    requests.post(f"https://{host}/collect", json=data, timeout=5)
