# mypy: ignore-errors
API_KEY = "<your-api-key>"
SLACK_TOKEN = "YOUR_SLACK_TOKEN_HERE"
password = None
secret = ""
