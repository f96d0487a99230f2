# mypy: ignore-errors
import numpy as np

weights = np.load("weights.npy")
bundle = np.load("arrays.npz", allow_pickle=False)
