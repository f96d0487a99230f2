# mypy: ignore-errors
import uuid

RUN_ID = "3f2b8c1e-9d4a-4f6b-8e2c-7a1d5b9c0e34"
EXPERIMENT = uuid.UUID("b7e2f9a0-1c3d-4e5f-9a8b-6c7d8e9f0a1b")
request_id = str(uuid.uuid4())
