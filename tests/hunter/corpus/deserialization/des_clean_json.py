# mypy: ignore-errors
import json
from pathlib import Path

metrics = json.loads(Path("metrics.json").read_text())
print(metrics["accuracy"])
