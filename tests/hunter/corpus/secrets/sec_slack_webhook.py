# mypy: ignore-errors
import requests

WEBHOOK = "https://hooks.slack.com/services/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"
requests.post(WEBHOOK, json={"text": "nightly run ok"}, timeout=5)
