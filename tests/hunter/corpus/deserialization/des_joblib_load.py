# mypy: ignore-errors
import sys

import joblib

model = joblib.load(sys.argv[1])
print(model.predict([[1.0, 2.0]]))
