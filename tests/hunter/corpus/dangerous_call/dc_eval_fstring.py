# mypy: ignore-errors
import sys

a, op, b = sys.argv[1:4]
print(eval(f"{a} {op} {b}"))
