# mypy: ignore-errors
import sqlite3

conn = sqlite3.connect("scratch.db")
user_sql = input("sql> ")
conn.executescript(user_sql)
