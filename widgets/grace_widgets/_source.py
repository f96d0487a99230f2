"""Read-only access to one workspace for the dashboards.

A dashboard runs in a Voila kernel, which is the untrusted side of Grace's trust
model (DESIGN.md §1): it must never hold the signing key or write a record.
So :class:`WorkspaceView` never opens a :class:`~grace_kernel.Workspace`. It
reads through the subsystems' own stores opened read-only (SQLite ``mode=ro``
URIs): the ledger (:class:`~grace_kernel.ledger.SQLiteLedgerStore`), alerts
(:class:`~grace_kernel.hunter.AlertStore`), approvals
(:class:`~grace_kernel.governance.ApprovalStore`), and health incidents
(:class:`~grace_kernel.health.IncidentStore`) and the verification history
(:class:`~grace_kernel.ledger.VerificationLog`), all opened read-only.

A workspace that does not exist yet (no ``grace.db``) is not an error: every
reader then answers "nothing yet" and the widgets show their empty states.
Nothing here creates a workspace.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError, MalformedRecordError
from grace_kernel.governance import ApprovalRequest, ApprovalStore
from grace_kernel.health import Incident, IncidentStore
from grace_kernel.hunter import Alert, AlertStore
from grace_kernel.ledger import (
    Envelope,
    SQLiteLedgerStore,
    Statement,
    VerificationLog,
    VerificationRun,
    VerifyReport,
)
from grace_kernel.workspace import current_user, verify_store

__all__ = [
    "DASHBOARD",
    "Alert",
    "CheckpointInfo",
    "Record",
    "VerificationRun",
    "WorkspaceView",
    "short_type",
]

_T = TypeVar("_T")
_URN_PREFIX = "urn:grace:predicate:"
DASHBOARD = "dashboard"  # the ``via`` of a verification a dashboard ran (never stored)


def short_type(predicate_type: str) -> str:
    """``urn:grace:predicate:governance-decision:v1`` -> ``governance-decision``."""
    if predicate_type.startswith(_URN_PREFIX):
        return predicate_type[len(_URN_PREFIX) :].rsplit(":", 1)[0]
    return predicate_type


def _epoch(rfc3339: str) -> float:
    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One ledger record as the dashboards use it (decoded once, then cached)."""

    index: int
    kind: str  # the short predicate type: "governance-decision", "notebook-run", ...
    recorded_at: float  # seconds since the epoch
    predicate: dict[str, Any]
    subjects: tuple[str, ...]
    error: str | None = None  # set when the stored bytes do not parse


@dataclasses.dataclass(frozen=True, slots=True)
class CheckpointInfo:
    size: int
    created_at: float
    origin: str


class WorkspaceView:
    """What the dashboards read, and only through read-only connections.

    Ledger records are cached by index: a refresh decodes only the records
    appended since the last one (the whole cache is dropped if the ledger is
    ever shorter than what was seen, e.g. after a restore from backup).
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._records: list[Record] = []
        self.verifications: list[VerificationRun] = []  # the ones this view ran

    @classmethod
    def at(cls, home: Path) -> WorkspaceView:
        """A view of the workspace directory ``home`` (a ``.grace`` directory)."""
        return cls(Settings(home=home.absolute()))

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def exists(self) -> bool:
        """Whether the workspace has a database yet (``grace init`` creates it)."""
        return self.settings.db_path.is_file()

    # ------------------------------------------------------------------ ledger

    def _ledger(self) -> SQLiteLedgerStore:
        return SQLiteLedgerStore(self.settings.db_path, readonly=True)

    def records(self) -> list[Record]:
        """Every record, in log order (decoding only what is new since the last call)."""
        if not self.exists:
            self._records = []
            return []
        store = self._ledger()
        try:
            with store.read() as txn:
                size = txn.size()
            if size < len(self._records):
                self._records = []
            start = len(self._records)
            if start < size:
                fresh = [
                    _decode(start + offset, raw)
                    for offset, raw in enumerate(store.iter_envelopes(start, size))
                ]
                self._records.extend(fresh)
        finally:
            store.close()
        return list(self._records)

    def of_kind(self, *kinds: str) -> list[Record]:
        wanted = set(kinds)
        return [r for r in self.records() if r.kind in wanted]

    def checkpoints(self) -> list[CheckpointInfo]:
        if not self.exists:
            return []
        store = self._ledger()
        try:
            stored = store.checkpoints()
            with store.read() as txn:
                origin = txn.get_meta("origin") or ""
        finally:
            store.close()
        return sorted(
            (CheckpointInfo(c.size, c.created_at, origin) for c in stored), key=lambda c: c.size
        )

    def meta(self, key: str) -> str | None:
        if not self.exists:
            return None
        store = self._ledger()
        try:
            with store.read() as txn:
                return txn.get_meta(key)
        finally:
            store.close()

    def mode(self) -> str:
        """The health mode as last stored by the supervisor (``normal`` when none is)."""
        return self.meta("health.mode") or "normal"

    def verify(self) -> VerificationRun:
        """Verify the whole ledger read-only (signatures, chain, Merkle roots, checkpoints,
        witness) and remember the outcome in :attr:`verifications`.

        A dashboard may not write, so its verifications stay in this view;
        :meth:`verification_history` shows them beside the workspace's own.
        """
        started, at = time.perf_counter(), self._clock()
        if not self.exists:
            report = VerifyReport(ok=True, size=0, first_bad_index=None, problem=None)
        else:
            store = self._ledger()
            try:
                report = verify_store(store, self.settings)
            except GraceError as exc:
                report = VerifyReport(ok=False, size=0, first_bad_index=None, problem=exc.message)
            finally:
                store.close()
        outcome = VerificationRun.of(
            report,
            at=at,
            seconds=time.perf_counter() - started,
            by=f"user:{current_user()}",
            via=DASHBOARD,
        )
        self.verifications.append(outcome)
        return outcome

    def verification_history(self, limit: int = 20) -> list[VerificationRun]:
        """The workspace's verification history (``grace verify``, the server, the lab)
        merged with this view's own, newest first."""
        stored: list[VerificationRun] = []
        if self.exists:
            log = VerificationLog(self.settings.db_path, readonly=True)
            with contextlib.closing(log):
                stored = log.recent(limit)
        merged = sorted([*stored, *self.verifications], key=lambda r: r.at, reverse=True)
        return merged[:limit]

    # ------------------------------------------------------------------ other stores

    def alerts(self, *, state: str | None = None) -> list[Alert]:
        if not self.exists:
            return []
        store = AlertStore(self.settings.db_path, ledger=None, readonly=True)
        with contextlib.closing(store):
            return _tolerate_missing_table(lambda: store.list(state=state))

    def approvals(self, *, state: str | None = None) -> list[ApprovalRequest]:
        if not self.exists:
            return []
        store = ApprovalStore(self.settings.db_path, readonly=True)
        with contextlib.closing(store):
            return _tolerate_missing_table(lambda: store.list(state=state))

    def incidents(self, limit: int = 50) -> list[Incident]:
        """The supervisor's incidents, newest first."""
        if not self.exists:
            return []
        store = IncidentStore(self.settings.db_path, readonly=True)
        with contextlib.closing(store):
            return store.recent(limit)


def _tolerate_missing_table(read: Callable[[], list[_T]]) -> list[_T]:
    """A read-only connection cannot create a subsystem's table; before that subsystem
    first wrote anything, its table is missing, which means "none yet"."""
    try:
        return read()
    except GraceError as exc:
        if "no such table" in exc.message:
            return []
        raise


def _decode(index: int, raw: bytes) -> Record:
    try:
        statement = Statement.from_payload(Envelope.from_bytes(raw).payload)
    except MalformedRecordError as exc:
        return Record(index, "unreadable", 0.0, {}, (), error=exc.message)
    return Record(
        index=index,
        kind=short_type(statement.predicate_type),
        recorded_at=_epoch(statement.chain.recorded_at),
        predicate=dict(statement.predicate),
        subjects=tuple(s.name for s in statement.subjects),
    )
