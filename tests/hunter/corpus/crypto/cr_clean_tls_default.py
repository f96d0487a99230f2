# mypy: ignore-errors
import ssl

import requests

ctx = ssl.create_default_context()
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
resp = requests.get("https://registry.lab.internal/v2/", verify="/etc/ssl/lab-ca.pem", timeout=10)
