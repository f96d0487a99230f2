# mypy: ignore-errors
import os
import sys

CACHE = "/var/cache/lab"
os.remove(os.path.join(CACHE, sys.argv[1]))
