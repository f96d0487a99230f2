# mypy: ignore-errors
import telnetlib


def read_banner(host: str) -> bytes:
    session = telnetlib.Telnet(host, 23, timeout=5)
    return session.read_until(b"login:", timeout=5)
