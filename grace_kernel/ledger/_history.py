"""The history of full ledger verifications: when, by whom, through what, and the outcome.

Reading the ledger leaves no trace in it, so without this table "the last
verification" would live only in the memory of whichever process ran it.
Every full verification on the trusted side (``grace verify``, the server's
``ledger/verify`` endpoints) adds a row; dashboards and kernels read it
through read-only connections.  It is operational history, not evidence: the
evidence is the signed log, which anyone can verify again at any time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from grace_kernel.ledger._verify import VerifyReport
from grace_kernel.store import SQLiteTables

__all__ = ["KEEP", "VerificationLog", "VerificationRun"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_verifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              REAL NOT NULL,
    ok              INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    first_bad_index INTEGER,
    problem         TEXT,
    seconds         REAL NOT NULL,
    by              TEXT NOT NULL,
    via             TEXT NOT NULL
);
"""


@dataclasses.dataclass(frozen=True, slots=True)
class VerificationRun:
    """One full verification: ``via`` names the door (cli, server, lab), ``by`` the person."""

    at: float
    ok: bool
    size: int
    first_bad_index: int | None
    problem: str | None
    seconds: float
    by: str
    via: str

    @classmethod
    def of(
        cls, report: VerifyReport, *, at: float, seconds: float, by: str, via: str
    ) -> VerificationRun:
        return cls(
            at=at,
            ok=report.ok,
            size=report.size,
            first_bad_index=report.first_bad_index,
            problem=report.problem,
            seconds=seconds,
            by=by,
            via=via,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


KEEP = 1000  # rows kept: the lab verifies on every notebook save, so the oldest go


class VerificationLog(SQLiteTables):
    """The ``ledger_verifications`` table (the newest :data:`KEEP` rows); ``readonly`` for
    dashboards and kernels."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(path, _SCHEMA, readonly=readonly)

    def add(self, run: VerificationRun) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO ledger_verifications (at, ok, size, first_bad_index, problem, seconds,"
                " by, via) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.at,
                    int(run.ok),
                    run.size,
                    run.first_bad_index,
                    run.problem,
                    run.seconds,
                    run.by,
                    run.via,
                ),
            )
            conn.execute(
                "DELETE FROM ledger_verifications WHERE id <= last_insert_rowid() - ?", (KEEP,)
            )

    def recent(self, limit: int = 20) -> list[VerificationRun]:
        """The newest first."""
        if self.readonly and not self.has_table("ledger_verifications"):
            return []  # a read-only reader does not create the table
        with self._read() as conn:
            rows = conn.execute(
                "SELECT at, ok, size, first_bad_index, problem, seconds, by, via"
                " FROM ledger_verifications ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            VerificationRun(
                at=float(r[0]),
                ok=bool(r[1]),
                size=int(r[2]),
                first_bad_index=None if r[3] is None else int(r[3]),
                problem=r[4],
                seconds=float(r[5]),
                by=r[6],
                via=r[7],
            )
            for r in rows
        ]

    def latest(self) -> VerificationRun | None:
        found = self.recent(1)
        return found[0] if found else None
