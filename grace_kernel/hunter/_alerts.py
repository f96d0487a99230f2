"""Alerts and tasks: what live scans and blocked actions leave for people to handle.

An alert is deduplicated by fingerprint: the same finding seen again bumps its
count and last-seen time instead of opening a second alert.  States: ``open`` →
``acknowledged`` → ``resolved`` | ``false-positive`` (marking false positives is
kept: it will train the severity model).  A high or critical alert opens a task
with an owner and a link to its evidence.  Creation and every state change is a
signed ledger record (``urn:grace:predicate:alert:v1``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grace_kernel.errors import InputError
from grace_kernel.events import AlertChanged, DecisionBlocked, EventBus, GuardBlocked
from grace_kernel.hunter._model import Finding, Severity
from grace_kernel.ledger import Ledger, Subject, predicate_type_urn
from grace_kernel.store import SQLiteTables

__all__ = ["ALERT", "Alert", "AlertStore"]

ALERT = predicate_type_urn("alert")
STATES = ("open", "acknowledged", "resolved", "false-positive")
_MOVES = {
    "ack": ({"open"}, "acknowledged"),
    "resolve": ({"open", "acknowledged"}, "resolved"),
    "false-positive": ({"open", "acknowledged"}, "false-positive"),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id          TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    rule_id     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    source      TEXT NOT NULL,
    title       TEXT NOT NULL,
    location    TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    state       TEXT NOT NULL,
    count       INTEGER NOT NULL,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    changed_by  TEXT,
    note        TEXT,
    task_owner  TEXT,
    task_state  TEXT
);
"""


@dataclasses.dataclass(frozen=True)
class Alert:
    id: str
    fingerprint: str
    rule_id: str
    severity: str
    source: str
    title: str
    location: str
    evidence: str
    state: str
    count: int
    first_seen: float
    last_seen: float
    changed_by: str | None
    note: str | None
    task_owner: str | None
    task_state: str | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class AlertStore(SQLiteTables):
    """The ``alerts`` table (tasks are columns of their alert) plus their ledger records."""

    def __init__(
        self,
        path: Path,
        *,
        ledger: Ledger | None,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
        events: EventBus | None = None,
    ) -> None:
        super().__init__(path, _SCHEMA, readonly=readonly)
        self._ledger = ledger
        self._clock = clock
        self._events = events

    # ------------------------------------------------------------------ raising

    def raise_alert(
        self,
        *,
        fingerprint: str,
        rule_id: str,
        severity: Severity,
        source: str,
        title: str,
        location: str,
        evidence: str,
        owner: str | None = None,
    ) -> Alert:
        """Open an alert, or count another sighting of an existing one (same fingerprint)."""
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM alerts WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE alerts SET count = count + 1, last_seen = ? WHERE id = ?", (now, row[0])
                )
                return self.get(row[0])
            alert_id = f"alt-{secrets.token_hex(5)}"
            needs_task = severity >= Severity.HIGH
            conn.execute(
                "INSERT INTO alerts VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, 'open', 1, ?, ?, NULL, NULL, ?, ?)",
                (
                    alert_id,
                    fingerprint,
                    rule_id,
                    severity.name.lower(),
                    source,
                    title,
                    location,
                    evidence,
                    now,
                    now,
                    (owner or "unassigned") if needs_task else None,
                    "open" if needs_task else None,
                ),
            )
        alert = self.get(alert_id)
        self._record(alert, by=None)
        return alert

    def from_finding(self, finding: Finding, *, source: str) -> Alert:
        where = f"{finding.file or '<input>'}"
        if finding.cell is not None:
            where += f" cell {finding.cell}"
        return self.raise_alert(
            fingerprint=finding.fingerprint,
            rule_id=finding.rule.id,
            severity=finding.effective_severity,
            source=source,
            title=finding.message,
            location=f"{where}:{finding.line}",
            evidence=finding.snippet,
        )

    def on_decision_blocked(self, event: DecisionBlocked) -> None:
        """Subscriber for governance's blocked decisions (denials and held actions)."""
        basis = f"{event.action}\0{event.principal}\0{event.resource}\0{event.effect}"
        self.raise_alert(
            fingerprint=hashlib.sha256(basis.encode()).hexdigest()[:32],
            rule_id=",".join(event.policy_ids) or "governance",
            severity=Severity.HIGH if event.effect == "deny" else Severity.MEDIUM,
            source="governance",
            title=f"{event.effect}: {event.action} by {event.principal}",
            location=event.resource,
            evidence=f"ledger record {event.ledger_index}; " + "; ".join(event.reasons),
        )

    def on_guard_blocked(self, event: GuardBlocked) -> None:
        """Subscriber for the runtime guard's blocks (code that got past the static checks)."""
        basis = f"guard\0{event.policy_id}\0{event.event}\0{event.target}\0{event.cell}"
        self.raise_alert(
            fingerprint=hashlib.sha256(basis.encode()).hexdigest()[:32],
            rule_id=event.policy_id,
            severity=Severity.HIGH,
            source="guard",
            title=f"runtime guard blocked {event.event} ({event.target[:80]})",
            location=event.cell,
            evidence=f"{event.reason}; principal {event.principal}; "
            f"cell record {event.record_index}",
        )

    # ------------------------------------------------------------------ reading

    def get(self, alert_id: str) -> Alert:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise InputError(f"no alert {alert_id!r}")
        return Alert(*row)

    def list(self, *, state: str | None = None) -> list[Alert]:
        if state is not None and state not in STATES:
            raise InputError(f"state must be one of {', '.join(STATES)}")
        with self._read() as conn:
            if state is None:
                rows = conn.execute("SELECT * FROM alerts ORDER BY last_seen DESC").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM alerts WHERE state = ? ORDER BY last_seen DESC", (state,)
                ).fetchall()
        return [Alert(*r) for r in rows]

    # ------------------------------------------------------------------ changing

    def move(self, alert_id: str, action: str, *, by: str, note: str = "") -> Alert:
        """``ack``, ``resolve`` or ``false-positive``; recorded with who and why."""
        if action not in _MOVES:
            raise InputError(f"unknown alert action {action!r}")
        allowed, state = _MOVES[action]
        current = self.get(alert_id)
        if current.state not in allowed:
            raise InputError(f"alert {alert_id} is {current.state}; cannot {action} it")
        task_state = current.task_state
        if task_state is not None and state in {"resolved", "false-positive"}:
            task_state = "done"
        with self._write() as conn:
            conn.execute(
                "UPDATE alerts SET state = ?, changed_by = ?, note = ?, task_state = ? "
                "WHERE id = ? AND state = ?",
                (state, by, note or None, task_state, alert_id, current.state),
            )
        alert = self.get(alert_id)
        self._record(alert, by=by)
        return alert

    def assign(self, alert_id: str, *, owner: str, by: str) -> Alert:
        current = self.get(alert_id)
        if current.task_state is None:
            raise InputError(f"alert {alert_id} has no task (only high and critical alerts do)")
        with self._write() as conn:
            conn.execute("UPDATE alerts SET task_owner = ? WHERE id = ?", (owner, alert_id))
        alert = self.get(alert_id)
        self._record(alert, by=by)
        return alert

    def _record(self, alert: Alert, *, by: str | None) -> None:
        if self._ledger is None:
            raise InputError(
                "this alert store is a read-only view; change alerts with `grace alerts`"
            )
        self._ledger.append(
            subjects=[
                Subject(f"alert:{alert.id}", hashlib.sha256(alert.fingerprint.encode()).hexdigest())
            ],
            predicate_type=ALERT,
            predicate={
                "alert_id": alert.id,
                "fingerprint": alert.fingerprint,
                "rule_id": alert.rule_id,
                "severity": alert.severity,
                "source": alert.source,
                "location": alert.location,
                "state": alert.state,
                "by": by,
                "note": alert.note,
                "task": None
                if alert.task_state is None
                else {"owner": alert.task_owner, "state": alert.task_state},
            },
        )
        if self._events is not None:
            self._events.emit(
                AlertChanged(
                    alert_id=alert.id,
                    state=alert.state,
                    rule_id=alert.rule_id,
                    severity=alert.severity,
                    source=alert.source,
                    title=alert.title,
                    location=alert.location,
                    by=by,
                )
            )
