# mypy: ignore-errors
import subprocess
import sys

server = subprocess.Popen([sys.executable, "-m", "http.server", "8000"], shell=False)
