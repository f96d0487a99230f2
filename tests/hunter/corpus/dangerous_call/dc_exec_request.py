# mypy: ignore-errors
from flask import Flask, request

app = Flask(__name__)


@app.post("/run")
def run_snippet():
    namespace = {}
    exec(request.form["code"], namespace)
    return str(namespace.get("result"))
