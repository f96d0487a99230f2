# mypy: ignore-errors
import importlib

remote = importlib.import_module("telnetlib")
link = remote.Telnet("10.1.2.3")
