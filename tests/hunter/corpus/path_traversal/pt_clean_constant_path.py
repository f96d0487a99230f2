# mypy: ignore-errors
import tomllib
from pathlib import Path

CONFIG = Path(__file__).parent / "config.toml"
settings = tomllib.loads(CONFIG.read_text())
