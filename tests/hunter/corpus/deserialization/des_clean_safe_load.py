# mypy: ignore-errors
import yaml

with open("experiment.yaml") as f:
    config = yaml.safe_load(f)
