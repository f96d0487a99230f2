"""Incidents: one row per cascade of failures, from detection to healing.

The supervisor keeps the open incident in memory and upserts the whole row
whenever it changes (so a write that failed while the store was down is
simply repeated later); opening and closing are also signed records.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from grace_kernel.store import SQLiteTables

__all__ = ["Incident", "IncidentStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS health_incidents (
    id          TEXT PRIMARY KEY,
    root        TEXT NOT NULL,
    members     TEXT NOT NULL,
    cause       TEXT NOT NULL,
    detected_at REAL NOT NULL,
    healed_at   REAL,
    actions     TEXT NOT NULL,
    mode_before TEXT NOT NULL,
    mode_after  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS health_incidents_detected ON health_incidents (detected_at);
"""


@dataclasses.dataclass
class Incident:
    """Failures grouped into one cascade; ``root`` explains the others.

    ``mode_after`` is the most restrictive mode the incident put Grace in.
    """

    id: str
    root: str
    members: list[str]
    cause: str
    detected_at: float
    mode_before: str
    mode_after: str
    healed_at: float | None = None
    actions: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.healed_at is None

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "open": self.open}


class IncidentStore(SQLiteTables):
    """The ``health_incidents`` table; ``readonly`` for readers such as a kernel's magics."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(path, _SCHEMA, readonly=readonly)

    def save(self, incident: Incident) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO health_incidents (id, root, members, cause, detected_at,"
                " healed_at, actions, mode_before, mode_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    incident.id,
                    incident.root,
                    json.dumps(incident.members),
                    incident.cause,
                    incident.detected_at,
                    incident.healed_at,
                    json.dumps(incident.actions),
                    incident.mode_before,
                    incident.mode_after,
                ),
            )

    def recent(self, limit: int = 10) -> list[Incident]:
        if self.readonly and not self.has_table("health_incidents"):
            return []  # a read-only reader does not create the table
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, root, members, cause, detected_at, healed_at, actions, mode_before,"
                " mode_after FROM health_incidents ORDER BY detected_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Incident(
                id=r[0],
                root=r[1],
                members=json.loads(r[2]),
                cause=r[3],
                detected_at=float(r[4]),
                healed_at=None if r[5] is None else float(r[5]),
                actions=json.loads(r[6]),
                mode_before=r[7],
                mode_after=r[8],
            )
            for r in rows
        ]
