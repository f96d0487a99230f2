# mypy: ignore-errors
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/convert")
def convert():
    cmd = "ffmpeg -i " + request.args["src"] + " out.mp4"
    proc = subprocess.Popen(cmd, shell=True)
    return str(proc.wait())
