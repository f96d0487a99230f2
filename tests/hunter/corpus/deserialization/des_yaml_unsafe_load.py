# mypy: ignore-errors
import yaml


def parse(text: str):
    return yaml.unsafe_load(text)
