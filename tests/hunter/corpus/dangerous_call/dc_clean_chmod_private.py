# mypy: ignore-errors
import os
import stat


def protect(path: str) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    os.chmod(path + ".bak", 0o600)
