# mypy: ignore-errors
import urllib.request

url = input("feed url: ")
with urllib.request.urlopen(url) as resp:
    print(resp.read()[:200])
