# mypy: ignore-errors
import subprocess
import sys

user_cmd = sys.argv[1]
subprocess.run(["sh", "-c", user_cmd], check=True)
