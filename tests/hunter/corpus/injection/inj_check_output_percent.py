# mypy: ignore-errors
import subprocess
import sys


def grep_log(pattern):
    return subprocess.check_output("grep %s /var/log/app.log" % pattern, shell=True)


print(grep_log(sys.argv[1]))
