# mypy: ignore-errors
import jsonpickle
from flask import Flask, request

app = Flask(__name__)


@app.post("/state")
def state():
    obj = jsonpickle.decode(request.get_data(as_text=True))
    return repr(obj)
