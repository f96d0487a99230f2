# mypy: ignore-errors
PINNED_COMMIT = "8f2e5b9d1c4a7e3f6b0a9d8c7e6f5a4b3c2d1e0f"
BASE_REVISION = "2421e11"
