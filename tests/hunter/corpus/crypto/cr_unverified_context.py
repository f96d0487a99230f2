# mypy: ignore-errors
import ssl
import urllib.request

ctx = ssl._create_unverified_context()
with urllib.request.urlopen("https://mirror.lab.internal/index.json", context=ctx) as r:
    print(r.read()[:100])
