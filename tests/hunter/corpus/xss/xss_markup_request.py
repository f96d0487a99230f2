# mypy: ignore-errors
from flask import Flask, request
from markupsafe import Markup

app = Flask(__name__)


@app.get("/search")
def search():
    return Markup(f"<p>Results for {request.args['q']}</p>")
