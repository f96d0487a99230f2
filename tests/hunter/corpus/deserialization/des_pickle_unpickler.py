# mypy: ignore-errors
import pickle


def read_state(path):
    with open(path, "rb") as f:
        return pickle.Unpickler(f).load()
