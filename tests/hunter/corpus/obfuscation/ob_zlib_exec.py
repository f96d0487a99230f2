# mypy: ignore-errors
import base64
import zlib

BLOB = "eJzLzE3NVyjPL8pJUQQAGvIEiA=="
exec(zlib.decompress(base64.b64decode(BLOB)))
