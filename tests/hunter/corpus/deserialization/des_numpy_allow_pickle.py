# mypy: ignore-errors
import numpy as np

arrays = np.load("upload.npy", allow_pickle=True)
