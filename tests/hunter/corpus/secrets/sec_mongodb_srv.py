# mypy: ignore-errors
from pymongo import MongoClient

client = MongoClient("mongodb+srv://labadmin:yeZQiVoMNBtcpY4ocP@cluster0.q8zrt.mongodb.net/samples")
