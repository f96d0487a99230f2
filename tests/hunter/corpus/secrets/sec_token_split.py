# mypy: ignore-errors
prefix = "ghp_"
TOKEN = prefix + "IgwUfxhZmrkKbQJv8Xl7hhnPn0evILYBaTvO"
