# mypy: ignore-errors
import subprocess
from pathlib import Path


def thumbnail(src: Path, dst: Path) -> None:
    subprocess.run(["convert", str(src), "-resize", "128x128", str(dst)], check=True)
