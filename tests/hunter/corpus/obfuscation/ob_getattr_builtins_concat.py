# mypy: ignore-errors
import builtins
import sys

run = getattr(builtins, "ev" + "al")
print(run(sys.argv[1]))
