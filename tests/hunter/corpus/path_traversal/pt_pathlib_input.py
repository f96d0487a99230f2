# mypy: ignore-errors
from pathlib import Path

BASE = Path("/srv/reports")
name = input("report name: ")
print((BASE / name).read_text())
