# mypy: ignore-errors
import sqlite3
import sys

conn = sqlite3.connect("lab.db")
query = "SELECT * FROM samples WHERE project = '" + sys.argv[1] + "'"
rows = conn.execute(query).fetchall()
