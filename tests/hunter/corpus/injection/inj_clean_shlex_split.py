# mypy: ignore-errors
import shlex
import subprocess

subprocess.run(shlex.split("ls -la /srv/data"), check=True)
