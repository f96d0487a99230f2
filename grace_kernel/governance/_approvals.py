"""Approval requests: persisted, expiring, and decided only by someone else.

States: ``pending`` → ``approved`` | ``denied`` | ``expired``; an approved
request authorizes exactly one execution of the same action and then becomes
``used``.  A pending request past its expiry is expired (and so denied) the
next time anyone looks at it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import Any

from grace_kernel.errors import InputError
from grace_kernel.store import SQLiteTables

__all__ = ["ApprovalRequest", "ApprovalState", "ApprovalStore"]

ApprovalState = str  # "pending" | "approved" | "denied" | "expired" | "used"
STATES = ("pending", "approved", "denied", "expired", "used")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id            TEXT PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    action        TEXT NOT NULL,
    requester     TEXT NOT NULL,
    person        TEXT,
    policy_ids    TEXT NOT NULL,
    reasons       TEXT NOT NULL,
    created_at    REAL NOT NULL,
    expires_at    REAL NOT NULL,
    state         TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    REAL,
    note          TEXT
);
CREATE INDEX IF NOT EXISTS approvals_by_fingerprint ON approvals (fingerprint, state);
"""


@dataclasses.dataclass(frozen=True)
class ApprovalRequest:
    id: str
    fingerprint: str
    action: dict[str, Any]
    requester: str
    person: str | None
    policy_ids: list[str]
    reasons: list[str]
    created_at: float
    expires_at: float
    state: ApprovalState
    decided_by: str | None = None
    decided_at: float | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ApprovalStore(SQLiteTables):
    """The ``approvals`` table of the workspace database."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(path, _SCHEMA, readonly=readonly)

    @staticmethod
    def _row(row: tuple[Any, ...]) -> ApprovalRequest:
        return ApprovalRequest(
            id=row[0],
            fingerprint=row[1],
            action=json.loads(row[2]),
            requester=row[3],
            person=row[4],
            policy_ids=json.loads(row[5]),
            reasons=json.loads(row[6]),
            created_at=row[7],
            expires_at=row[8],
            state=row[9],
            decided_by=row[10],
            decided_at=row[11],
            note=row[12],
        )

    def create(
        self,
        *,
        fingerprint: str,
        action: dict[str, Any],
        requester: str,
        person: str | None,
        policy_ids: list[str],
        reasons: list[str],
        now: float,
        ttl: float,
    ) -> ApprovalRequest:
        request = ApprovalRequest(
            id=f"apr-{secrets.token_hex(6)}",
            fingerprint=fingerprint,
            action=action,
            requester=requester,
            person=person,
            policy_ids=policy_ids,
            reasons=reasons,
            created_at=now,
            expires_at=now + ttl,
            state="pending",
        )
        with self._write() as conn:
            conn.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                (
                    request.id,
                    fingerprint,
                    json.dumps(action, sort_keys=True),
                    requester,
                    person,
                    json.dumps(policy_ids),
                    json.dumps(reasons),
                    now,
                    request.expires_at,
                    "pending",
                ),
            )
        return request

    def get(self, approval_id: str) -> ApprovalRequest:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        if row is None:
            raise InputError(f"no approval request {approval_id!r}")
        return self._row(row)

    def find(self, fingerprint: str, *, states: tuple[str, ...]) -> ApprovalRequest | None:
        """The newest request for this exact action in one of ``states``."""
        marks = ",".join("?" * len(states))
        with self._read() as conn:
            row = conn.execute(
                f"SELECT * FROM approvals WHERE fingerprint = ? AND state IN ({marks})"  # noqa: S608  # placeholders only
                " ORDER BY created_at DESC LIMIT 1",
                (fingerprint, *states),
            ).fetchone()
        return None if row is None else self._row(row)

    def list(self, *, state: str | None = None) -> list[ApprovalRequest]:
        if state is not None and state not in STATES:
            raise InputError(f"state must be one of {', '.join(STATES)}")
        with self._read() as conn:
            if state is None:
                rows = conn.execute("SELECT * FROM approvals ORDER BY created_at").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM approvals WHERE state = ? ORDER BY created_at", (state,)
                ).fetchall()
        return [self._row(r) for r in rows]

    def transition(
        self,
        approval_id: str,
        *,
        expect: str,
        state: str,
        by: str | None,
        now: float,
        note: str | None = None,
    ) -> ApprovalRequest:
        """Move a request from ``expect`` to ``state`` atomically, or refuse."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE approvals SET state = ?, decided_by = COALESCE(?, decided_by),"
                " decided_at = ?, note = COALESCE(?, note) WHERE id = ? AND state = ?",
                (state, by, now, note, approval_id, expect),
            ).rowcount
        current = self.get(approval_id)
        if not changed:
            raise InputError(f"approval request {approval_id} is {current.state}, not {expect}")
        return current
