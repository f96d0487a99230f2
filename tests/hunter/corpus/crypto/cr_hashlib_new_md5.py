# mypy: ignore-errors
import hashlib


def token_digest(token: bytes) -> str:
    h = hashlib.new("md5")
    h.update(token)
    return h.hexdigest()
