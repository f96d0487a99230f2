# mypy: ignore-errors
import csv
import json
import pathlib

rows = list(csv.DictReader(pathlib.Path("runs.csv").open()))
pathlib.Path("runs.json").write_text(json.dumps(rows))
