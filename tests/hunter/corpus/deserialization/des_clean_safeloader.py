# mypy: ignore-errors
import yaml

with open("experiment.yaml") as f:
    config = yaml.load(f, Loader=yaml.SafeLoader)
