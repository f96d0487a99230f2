# mypy: ignore-errors
import sqlite3


def find_user(conn: sqlite3.Connection, name: str):
    return conn.execute("SELECT id, email FROM users WHERE name = ?", (name,)).fetchall()
