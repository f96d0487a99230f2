# mypy: ignore-errors
import telnetlib as tl

conn = tl.Telnet("switch-01.lab.internal")
conn.write(b"show interfaces\n")
