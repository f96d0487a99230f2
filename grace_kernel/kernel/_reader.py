"""What code in a kernel may see of the workspace: read-only views, never the keys.

The magics use these instead of :class:`~grace_kernel.workspace.Workspace`,
which holds the signing key and writes.  Every database connection here is a
``mode=ro`` URI, the one kind the runtime guard lets kernel code open on
Grace's files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from grace_kernel.config import Settings
from grace_kernel.errors import GraceEnvironmentError, MalformedRecordError
from grace_kernel.governance import ApprovalRequest, ApprovalStore
from grace_kernel.health import MANUAL_META, Incident, IncidentStore
from grace_kernel.hunter import Alert, AlertStore
from grace_kernel.ledger import Envelope, SQLiteLedgerStore, Statement, VerifyReport
from grace_kernel.workspace import verify_store

__all__ = ["WorkspaceReader"]


class WorkspaceReader:
    """Read-only access to one workspace's ledger, alerts and approvals."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if not settings.db_path.is_file():
            raise GraceEnvironmentError(
                f"no Grace workspace at {settings.home}",
                hint="run `grace init` in the project directory (outside the kernel)",
            )

    @contextlib.contextmanager
    def _store(self) -> Iterator[SQLiteLedgerStore]:
        store = SQLiteLedgerStore(self.settings.db_path, readonly=True)
        try:
            yield store
        finally:
            store.close()

    def summary(self) -> dict[str, Any]:
        with self._store() as store, store.read() as txn:
            size = txn.size()
            mode = txn.get_meta("health.mode") or "normal"
            manual = txn.get_meta(MANUAL_META) or "normal"
            checkpoints = store.checkpoints()
        latest = max(checkpoints, key=lambda c: c.size) if checkpoints else None
        return {
            "workspace": str(self.settings.home),
            "records": size,
            "latest_checkpoint": None if latest is None else latest.size,
            "mode": mode,
            "manual": manual,
            "pending_approvals": len(self.approvals(state="pending")),
            "open_alerts": len(self.alerts(state="open")),
        }

    def incidents(self, limit: int = 10) -> list[Incident]:
        """The newest health incidents (none before the supervisor first recorded one)."""
        store = IncidentStore(self.settings.db_path, readonly=True)
        try:
            return store.recent(limit)
        finally:
            store.close()

    def tail(self, count: int) -> list[dict[str, Any]]:
        with self._store() as store, store.read() as txn:
            size = txn.size()
        start = max(0, size - count)
        out = []
        with self._store() as store:
            for offset, raw in enumerate(store.iter_envelopes(start)):
                try:
                    statement = Statement.from_payload(Envelope.from_bytes(raw).payload)
                except MalformedRecordError as exc:
                    out.append({"index": start + offset, "error": exc.message})
                    continue
                out.append(
                    {
                        "index": start + offset,
                        "type": statement.predicate_type.rsplit(":", 2)[-2],
                        "subjects": [s.name for s in statement.subjects][:3],
                    }
                )
        return out

    def verify(self) -> VerifyReport:
        """Verify the whole log (signatures, chain, Merkle root, checkpoints, witness)."""
        with self._store() as store:
            return verify_store(store, self.settings)

    def envelopes(self) -> Iterator[tuple[int, bytes]]:
        """Every stored record with its index, streamed (for provenance checks)."""
        with self._store() as store:
            yield from enumerate(store.iter_envelopes())

    def alerts(self, *, state: str | None = None) -> list[Alert]:
        store = AlertStore(self.settings.db_path, ledger=None, readonly=True)
        try:
            return store.list(state=state)
        finally:
            store.close()

    def approvals(self, *, state: str | None = None) -> list[ApprovalRequest]:
        store = ApprovalStore(self.settings.db_path, readonly=True)
        try:
            return store.list(state=state)
        finally:
            store.close()
