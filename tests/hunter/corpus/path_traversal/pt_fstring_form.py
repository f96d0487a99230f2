# mypy: ignore-errors
from flask import Flask, request

app = Flask(__name__)


@app.post("/save")
def save():
    with open(f"/srv/data/{request.form['name']}.csv", "w") as out:
        out.write(request.form["body"])
    return "ok"
