# mypy: ignore-errors
from slack_sdk import WebClient

client = WebClient(token="xoxb-111876068666-0051545212928-d67H6jXhER15qX9v6CVlZx9n")
client.chat_postMessage(channel="#runs", text="training finished")
