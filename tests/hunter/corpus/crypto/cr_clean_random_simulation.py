# mypy: ignore-errors
import random

rng = random.Random(42)
walk = [0.0]
for _ in range(1000):
    walk.append(walk[-1] + rng.gauss(0.0, 1.0))
sample = random.sample(range(100), 10)
