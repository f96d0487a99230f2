# mypy: ignore-errors
import sys

lines = sys.stdin.read().splitlines()
results = list(map(eval, lines))
print(sum(results))
