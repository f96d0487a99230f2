# mypy: ignore-errors
from pickle import loads as restore


def from_cache(blob: bytes):
    return restore(blob)
