# mypy: ignore-errors
import pickle
import sys

with open(sys.argv[1], "rb") as handle:
    model = pickle.load(handle)
