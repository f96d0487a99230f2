# mypy: ignore-errors
import os

from flask import Flask, request

app = Flask(__name__)
UPLOAD_DIR = "/srv/uploads"


@app.get("/download")
def download():
    with open(os.path.join(UPLOAD_DIR, request.args["file"]), "rb") as f:
        return f.read()
