# mypy: ignore-errors
from openai import OpenAI

client = OpenAI(api_key="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")
