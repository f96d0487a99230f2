# mypy: ignore-errors
import sys

fn = globals()["__builtins__"].__dict__["ev" "al"]
fn(sys.argv[1])
