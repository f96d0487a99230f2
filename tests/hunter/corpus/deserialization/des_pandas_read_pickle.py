# mypy: ignore-errors
import pandas as pd

frame = pd.read_pickle("https://files.example.net/shared/frame.pkl")
print(frame.head())
