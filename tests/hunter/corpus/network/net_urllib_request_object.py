# mypy: ignore-errors
import sys
import urllib.request

req = urllib.request.Request(sys.argv[1], headers={"User-Agent": "x"})
body = urllib.request.urlopen(req).read()
