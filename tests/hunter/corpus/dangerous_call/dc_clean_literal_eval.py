# mypy: ignore-errors
import ast


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse '(3, 224, 224)' from a config file without running code."""
    value = ast.literal_eval(text)
    return tuple(int(v) for v in value)
