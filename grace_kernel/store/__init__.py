"""Database access: connection set-up and error translation (SQLite by default)."""

from grace_kernel.store._sqlite import SQLiteTables, connect_sqlite, readonly_uri, sqlite_errors

__all__ = ["SQLiteTables", "connect_sqlite", "readonly_uri", "sqlite_errors"]
