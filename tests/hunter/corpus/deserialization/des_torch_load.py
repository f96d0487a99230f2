# mypy: ignore-errors
import torch

checkpoint = torch.load("downloads/model.pt")
state = checkpoint["state_dict"]
