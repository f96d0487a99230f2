# mypy: ignore-errors
import sys
from builtins import eval as evaluate

threshold = evaluate(sys.argv[1])
print(threshold * 2)
