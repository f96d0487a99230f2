"""Grace inside jupyter_server: the trusted side for JupyterLab (DESIGN.md §1).

One :class:`ServerService` per server process holds the workspace (and so the
signing key), the Hunter scanner, and the cells held for approval.  The
websocket connections of every kernel share it; a periodic check releases or
refuses held cells when their approval is decided, whichever process decided
it (the REST API, or ``grace approvals`` in a terminal).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornado.ioloop import PeriodicCallback

from grace_kernel.errors import GraceError
from grace_kernel.governance import Decision, Principal, Severity
from grace_kernel.health import (
    LoopMonitor,
    RecordSpool,
    StoreKeeper,
    Supervisor,
    workspace_supervisor,
)
from grace_kernel.health._kernels import ServerKernels
from grace_kernel.hunter import Scanner
from grace_kernel.runs._records import CELL_EXECUTION, cell_action, cell_record
from grace_kernel.workspace import Workspace

if TYPE_CHECKING:
    from grace_kernel.server._containment import Containment

__all__ = ["HOLD_CHECK_S", "Held", "ServerService"]

HOLD_CHECK_S = 1.0


@dataclasses.dataclass
class Held:
    """An execute_request waiting for a person's approval; nothing reached the kernel."""

    approval_id: str
    release: Callable[[Decision], None]  # approved: govern again and forward
    refuse: Callable[[str], None]  # denied or expired: answer the frontend
    since: float


class ServerService:
    """Decisions, records and approval holds for every kernel websocket of one server."""

    def __init__(self, workspace: Workspace, *, scanner: Scanner | None = None) -> None:
        self.workspace = workspace
        self.scanner = scanner or Scanner()
        self.held: dict[str, list[Held]] = {}
        self.checker: PeriodicCallback | None = None  # started by the extension
        self.hold_loop = LoopMonitor("hold-checker", period=HOLD_CHECK_S)
        self.keeper = StoreKeeper(workspace)
        self.supervisor: Supervisor = workspace_supervisor(
            workspace,
            keeper=self.keeper,
            scanner=lambda: self.scanner,
            restart_scanner=self._new_scanner,
            loops=[(self.hold_loop, self._restart_checker)],
        )
        self.health_ticker: PeriodicCallback | None = None  # started by the extension
        self.kernels: ServerKernels | None = None  # the kernel watchdog, set by the extension
        self.kernel_ticker: PeriodicCallback | None = None
        self.containment: Containment | None = None  # burst triggers, set by the extension
        # Cell records the store refuses (locked, unwritable, damaged) wait here, on disk.
        self.spool = RecordSpool(workspace.settings.home / "spool.jsonl")
        self.supervisor.when_store_healthy(lambda: self.spool.drain(workspace.ledger))
        with contextlib.suppress(GraceError):  # what a previous server could not record
            self.spool.drain(workspace.ledger)
        self._closed = False

    # ------------------------------------------------------------------ health

    def _new_scanner(self) -> None:
        self.scanner = Scanner()

    def _restart_checker(self) -> None:
        self.hold_loop.reset()
        if self.checker is not None:
            self.checker.stop()
            self.checker.start()

    def tick_health(self) -> None:
        """One supervisor round (periodic, on the server's event loop)."""
        self.supervisor.tick()

    def decide_cell(
        self,
        source: str,
        *,
        user: str,
        kernel_id: str,
        notebook: str,
        cell_id: str,
    ) -> tuple[Decision, str]:
        """Scan and govern one cell sent by ``user``; the decision and the code digest."""
        prepared = cell_action(
            source,
            principal=Principal.kernel(kernel_id, on_behalf_of=user),
            scanner=self.scanner,
            location=f"{notebook}#{cell_id}",
            detail={"notebook": notebook, "cell_id": cell_id, "trust": "server"},
        )
        return self.workspace.governance.govern(prepared.action), prepared.code_sha256

    def record_cell(
        self,
        *,
        notebook: str,
        cell_id: str,
        code_sha256: str,
        outputs: list[dict[str, Any]],
        status: str,
        decision: Decision,
        started: float,
        kernel_id: str,
        guard_blocks: list[dict[str, Any]],
        redactions: list[str] | None = None,
    ) -> int | None:
        subjects, predicate = cell_record(
            notebook=notebook,
            cell_id=cell_id,
            cell_index=-1,  # the server sees cells, not their position in the file
            code_sha256=code_sha256,
            outputs=outputs,
            status=status,
            decision=decision,
            started=started,
            duration_ms=(time.time() - started) * 1000,
            kernel_id=kernel_id,
            trust="server",
            guard_blocks=guard_blocks,
        )
        if redactions:  # that a secret was hidden, and by which rule; never the secret
            counts: dict[str, int] = {}
            for rule in redactions:
                counts[rule] = counts.get(rule, 0) + 1
            predicate["redactions"] = counts
        try:
            entry = self.workspace.ledger.append(
                subjects=subjects, predicate_type=CELL_EXECUTION, predicate=predicate
            )
        except GraceError as exc:  # the store is failing: keep it for later, never drop it
            self.spool.put(CELL_EXECUTION, subjects, predicate)
            self.supervisor.journal.append({"spooled": cell_id, "error": exc.message})
            return None
        return entry.index

    def signal(
        self, kernel_id: str, kind: str, severity: Severity, detail: str, *, notebook: str
    ) -> None:
        """A high-severity signal about one kernel, for the burst triggers."""
        if self.containment is not None:
            self.containment.signal(kernel_id, kind, severity, detail, notebook=notebook)

    # ------------------------------------------------------------------ holds

    def hold(self, held: Held) -> None:
        self.held.setdefault(held.approval_id, []).append(held)

    def check_holds(self) -> None:
        """Release approved holds, refuse denied or expired ones (called periodically)."""
        self.hold_loop.tick()
        if not self.held:
            return
        governance = self.workspace.governance
        governance.expire_stale()
        for approval_id in list(self.held):
            request = governance.approvals.get(approval_id)
            if request.state == "pending":
                continue
            waiting = self.held.pop(approval_id)
            for held in waiting:
                if request.state == "approved":
                    held.release(self._approved_decision(approval_id))
                else:
                    by = f" by {request.decided_by}" if request.decided_by else ""
                    note = f": {request.note}" if request.note else ""
                    held.refuse(f"approval request {approval_id} was {request.state}{by}{note}")

    def _approved_decision(self, approval_id: str) -> Decision:
        from grace_kernel.governance import Action

        request = self.workspace.governance.approvals.get(approval_id)
        return self.workspace.governance.govern(Action.from_json(request.action))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for ticker in (self.checker, self.health_ticker, self.kernel_ticker):
            if ticker is not None:
                ticker.stop()
        if self.kernels is not None:
            self.kernels.close()
        for waiting in self.held.values():
            for held in waiting:
                held.refuse("the Jupyter server stopped before the approval was decided")
        self.held.clear()
        try:
            self.workspace.close()
        finally:
            self.keeper.close()
