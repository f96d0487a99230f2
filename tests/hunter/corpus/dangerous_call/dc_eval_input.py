# mypy: ignore-errors
"""Tiny calculator for the lab's quick unit conversions."""

expr = input("expression> ")
print("=", eval(expr))
