# mypy: ignore-errors
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
COLUMN_NAMES = [f"col_{letter}" for letter in LETTERS]
