"""Results cached by content hash, so an unchanged tree re-scans almost for free.

Keyed by SHA-256 of the file's bytes, its suffix and the rule set's
fingerprint; the value is the findings as JSON (without the file name, which is
re-applied on the way out).  Stored in one SQLite file under ``.grace/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grace_kernel.store import SQLiteTables

__all__ = ["ScanCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hunter_cache (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class ScanCache(SQLiteTables):
    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with self._read() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, value FROM hunter_cache WHERE key IN ({marks})",  # noqa: S608  # placeholders only
                    chunk,
                ).fetchall()
                out.update((k, json.loads(v)) for k, v in rows)
        return out

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO hunter_cache (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in items.items()],
            )
