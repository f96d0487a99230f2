# mypy: ignore-errors
from hashlib import md5 as digest


def api_key_fingerprint(api_key: str) -> str:
    return digest(api_key.encode()).hexdigest()
