# mypy: ignore-errors
from cryptography.hazmat.primitives.asymmetric import rsa

private_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
public_key = private_key.public_key()
