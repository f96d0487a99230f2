# mypy: ignore-errors
import torch


def restore(path: str):
    return torch.load(path, map_location="cpu", weights_only=False)
