# mypy: ignore-errors
from flask import Flask, request

app = Flask(__name__)


@app.route("/greet")
def greet():
    return "<p>Welcome back, " + request.args.get("name", "") + "</p>"
