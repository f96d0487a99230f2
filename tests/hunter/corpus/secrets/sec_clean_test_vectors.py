# mypy: ignore-errors
# RFC 4231 HMAC-SHA256 test case 1 (public test vector, not a secret)
HMAC_TEST_KEY = bytes.fromhex("0b" * 20)
HMAC_TEST_DATA = b"Hi There"
