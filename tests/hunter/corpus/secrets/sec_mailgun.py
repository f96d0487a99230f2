# mypy: ignore-errors
MAILGUN_API_KEY = "key-f881b917e1883ca910099d60b2000122"
