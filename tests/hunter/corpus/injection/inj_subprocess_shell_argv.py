# mypy: ignore-errors
import subprocess
import sys

archive = sys.argv[1]
subprocess.run(f"tar xzf {archive} -C /data/incoming", shell=True, check=True)
