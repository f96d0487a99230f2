# mypy: ignore-errors
def rgb(hex_colour: str) -> tuple[int, int, int]:
    r, g, b = bytes.fromhex(hex_colour.lstrip("#"))
    return r, g, b


ORANGE = rgb("#ff8800")
