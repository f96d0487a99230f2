# mypy: ignore-errors
from pathlib import Path


def load_plugins(folder: str) -> dict:
    registry = {}
    for script in Path(folder).glob("*.py"):
        scope = {}
        exec(script.read_text(), scope)
        registry[script.stem] = scope
    return registry
