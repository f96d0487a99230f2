# mypy: ignore-errors
import socket
import ssl

context = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
raw = socket.create_connection(("legacy.lab.internal", 443))
conn = context.wrap_socket(raw, server_hostname="legacy.lab.internal")
