# mypy: ignore-errors
SENDGRID_API_KEY = "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"
