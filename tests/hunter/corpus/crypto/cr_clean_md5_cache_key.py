# mypy: ignore-errors
import hashlib


def cache_key(url: str) -> str:
    """A file name for the download cache; not a security boundary."""
    return hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()
