# mypy: ignore-errors
import marshal


def restore(blob: bytes):
    return marshal.loads(blob)
