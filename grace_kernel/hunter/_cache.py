"""Results cached by content hash, so an unchanged tree re-scans almost for free.

Keyed by SHA-256 of the file's bytes, its suffix and the rule set's
fingerprint; the value is the findings as JSON (without the file name, which is
re-applied on the way out).  Stored in one SQLite file under ``.grace/``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from grace_kernel.store import connect_sqlite, sqlite_errors

__all__ = ["ScanCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hunter_cache (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class ScanCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection = connect_sqlite(path)
        with sqlite_errors(path):
            self._conn.executescript(_SCHEMA)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with sqlite_errors(self.path):
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, value FROM hunter_cache WHERE key IN ({marks})",  # noqa: S608  # placeholders only
                    chunk,
                ).fetchall()
                out.update((k, json.loads(v)) for k, v in rows)
        return out

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        with sqlite_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR REPLACE INTO hunter_cache (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in items.items()],
            )
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with sqlite_errors(self.path):
            self._conn.close()
