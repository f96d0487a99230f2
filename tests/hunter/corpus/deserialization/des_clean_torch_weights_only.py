# mypy: ignore-errors
import torch

state = torch.load("checkpoints/best.pt", map_location="cpu", weights_only=True)
