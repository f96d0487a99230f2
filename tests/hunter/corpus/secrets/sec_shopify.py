# mypy: ignore-errors
SHOPIFY_TOKEN = "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"
