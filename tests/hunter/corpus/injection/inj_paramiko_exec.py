# mypy: ignore-errors
import sys

import paramiko

client = paramiko.SSHClient()
client.load_system_host_keys()
client.connect("hpc-login.lab.internal", username="runner")
stdin, stdout, stderr = client.exec_command("squeue -u " + sys.argv[1])
