# mypy: ignore-errors
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms


def encrypt(key: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.ARC4(key), mode=None).encryptor()
    return encryptor.update(data)
