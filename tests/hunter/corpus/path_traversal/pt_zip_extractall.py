# mypy: ignore-errors
import zipfile


def unpack(upload_path: str, dest: str) -> None:
    with zipfile.ZipFile(upload_path) as zf:
        zf.extractall(dest)
