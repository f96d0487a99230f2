# mypy: ignore-errors
import hashlib
import hmac


def verify(secret: bytes, message: bytes, signature: str) -> bool:
    expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
