"""The index half of the quarantine: one row per quarantined file in the workspace database.

Blobs are named by content, so two entries may share one; the index says who
put which file where, why and when, and whether it has been restored.  States:
``quarantined`` → ``restored`` (once; a restored entry stays listed for the record).
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import Any

from grace_kernel.errors import InputError
from grace_kernel.store import SQLiteTables

__all__ = ["QuarantineEntry", "QuarantineIndex"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id            TEXT PRIMARY KEY,
    sha256        TEXT NOT NULL,
    path          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    mode          INTEGER NOT NULL,
    who           TEXT NOT NULL,
    why           TEXT NOT NULL,
    created_at    REAL NOT NULL,
    state         TEXT NOT NULL,
    decision_id   TEXT,
    ledger_index  INTEGER,
    restored_at   REAL,
    restored_by   TEXT,
    restored_to   TEXT,
    approval_id   TEXT
);
CREATE INDEX IF NOT EXISTS quarantine_by_content ON quarantine (sha256, state);
"""


@dataclasses.dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined file: ``path`` is workspace-relative when it was inside the workspace."""

    id: str
    sha256: str
    path: str
    size: int
    mode: int
    who: str
    why: str
    created_at: float
    state: str  # quarantined | restored
    decision_id: str | None = None
    ledger_index: int | None = None
    restored_at: float | None = None
    restored_by: str | None = None
    restored_to: str | None = None
    approval_id: str | None = None

    @property
    def mode_text(self) -> str:
        return f"{self.mode:04o}"

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "mode": self.mode_text}


class QuarantineIndex(SQLiteTables):
    """The ``quarantine`` table of the workspace database."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(path, _SCHEMA, readonly=readonly)

    def insert(
        self,
        *,
        sha256: str,
        path: str,
        size: int,
        mode: int,
        who: str,
        why: str,
        decision_id: str | None,
        now: float,
    ) -> QuarantineEntry:
        entry = QuarantineEntry(
            id=f"q-{secrets.token_hex(5)}",
            sha256=sha256,
            path=path,
            size=size,
            mode=mode,
            who=who,
            why=why,
            created_at=now,
            state="quarantined",
            decision_id=decision_id,
        )
        with self._write() as conn:
            conn.execute(
                "INSERT INTO quarantine (id, sha256, path, size, mode, who, why, created_at,"
                " state, decision_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    sha256,
                    path,
                    size,
                    mode,
                    who,
                    why,
                    now,
                    entry.state,
                    decision_id,
                ),
            )
        return entry

    def get(self, entry_id: str) -> QuarantineEntry:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM quarantine WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise InputError(
                f"no quarantine entry {entry_id!r}",
                hint="`grace quarantine list --all` shows every entry",
            )
        return QuarantineEntry(*row)

    def find(self, path: str, sha256: str) -> QuarantineEntry | None:
        """The entry still holding this content for this path, if any (to finish a crashed move)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM quarantine WHERE path = ? AND sha256 = ? AND state = 'quarantined'"
                " ORDER BY created_at LIMIT 1",
                (path, sha256),
            ).fetchone()
        return None if row is None else QuarantineEntry(*row)

    def list(self, *, include_restored: bool = False) -> list[QuarantineEntry]:
        query = "SELECT * FROM quarantine"
        if not include_restored:
            query += " WHERE state = 'quarantined'"
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY created_at DESC").fetchall()
        return [QuarantineEntry(*r) for r in rows]

    def holding(self, sha256: str) -> int:
        """How many entries still in quarantine need the blob ``sha256``."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM quarantine WHERE sha256 = ? AND state = 'quarantined'",
                (sha256,),
            ).fetchone()
        return int(row[0])

    def set_recorded(self, entry_id: str, ledger_index: int) -> QuarantineEntry:
        with self._write() as conn:
            conn.execute(
                "UPDATE quarantine SET ledger_index = ? WHERE id = ?", (ledger_index, entry_id)
            )
        return self.get(entry_id)

    def mark_restored(
        self, entry_id: str, *, at: float, by: str, to: str, approval_id: str | None
    ) -> QuarantineEntry:
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE quarantine SET state = 'restored', restored_at = ?, restored_by = ?,"
                " restored_to = ?, approval_id = ? WHERE id = ? AND state = 'quarantined'",
                (at, by, to, approval_id, entry_id),
            ).rowcount
        if not changed:
            raise InputError(f"quarantine entry {entry_id} was restored meanwhile")
        return self.get(entry_id)
