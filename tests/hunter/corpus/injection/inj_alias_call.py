# mypy: ignore-errors
import subprocess as sp
import sys

for line in sys.stdin:
    sp.call(line.strip(), shell=True)
