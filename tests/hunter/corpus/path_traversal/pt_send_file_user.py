# mypy: ignore-errors
from flask import Flask, request, send_file

app = Flask(__name__)


@app.get("/file")
def fetch():
    return send_file(request.args.get("path"))
