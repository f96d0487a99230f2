# mypy: ignore-errors
import getpass
import os

token = os.environ["GITHUB_TOKEN"]
api_key = os.getenv("OPENAI_API_KEY", "")
password = getpass.getpass("database password: ")
