# mypy: ignore-errors
import os
from ftplib import FTP

ftp = FTP("ftp.instrument.lab")
ftp.login(os.environ["FTP_USER"], os.environ["FTP_PASS"])
with open("run.raw", "wb") as out:
    ftp.retrbinary("RETR run.raw", out.write)
