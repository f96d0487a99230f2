# mypy: ignore-errors
import subprocess
import sys

usage = subprocess.getoutput(f"du -sh {sys.argv[1]}")
print(usage)
