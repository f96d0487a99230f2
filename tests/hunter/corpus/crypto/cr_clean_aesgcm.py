# mypy: ignore-errors
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

key = AESGCM.generate_key(bit_length=256)
nonce = os.urandom(12)
sealed = AESGCM(key).encrypt(nonce, b"payload", b"header")
