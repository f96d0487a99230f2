# mypy: ignore-errors
from safetensors.torch import load_file

tensors = load_file("model.safetensors", device="cpu")
