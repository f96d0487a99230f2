# mypy: ignore-errors
# telnetlib and ftplib are not used here: the instrument speaks SSH and SFTP.
PROTOCOLS = ("sftp", "https")
NOTE = "import telnetlib is forbidden by the lab policy"


def protocol_ok(name: str) -> bool:
    return name in PROTOCOLS
