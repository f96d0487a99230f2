# mypy: ignore-errors
import http.client

conn = http.client.HTTPSConnection("api.github.com", timeout=10)
conn.request("GET", "/zen", headers={"User-Agent": "lab-bot"})
print(conn.getresponse().read().decode())
