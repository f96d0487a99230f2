# mypy: ignore-errors
from flask import Flask, send_from_directory

app = Flask(__name__)


@app.get("/static/<path:name>")
def static_file(name):
    return send_from_directory("public", name)
