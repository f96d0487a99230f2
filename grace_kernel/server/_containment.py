"""Containing a kernel that sets off a burst of security signals.

The websocket connections report, per kernel, every cell Hunter found high
or critical findings in and every operation the runtime guard blocked
(:meth:`Containment.signal`).  The configured triggers
(:class:`~grace_kernel.health.BurstDetector` by default: 5 in 60 s) decide
when that is a burst; ``c.GraceServer.burst_action`` says what happens then:

- ``isolate`` (default): the kernel is restarted in the sandbox provisioner
  (same kernel id; JupyterLab reconnects), after governance allows
  ``sandbox.run`` at this machine's level.  A kernel already sandboxed, a
  refused isolation or a failed restart escalate to safe mode;
- ``safe``: Grace's mode floor goes to ``safe`` (read-only for everyone) until
  a person lowers it with ``grace mode set normal`` and its approval;
- ``none``: the burst is recorded, nothing else.

Every burst is a signed ``health-trigger`` record (the signals, the action,
its outcome) and an incident in ``grace status``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

from grace_kernel.errors import GraceError
from grace_kernel.governance import Principal, Severity
from grace_kernel.health import (
    HEALTH_TRIGGER,
    Burst,
    BurstAction,
    CheckResult,
    Health,
    Mode,
    Signal,
    Trigger,
    health_record,
)
from grace_kernel.sandbox import probe
from grace_kernel.sandbox._provisioner import (
    SANDBOXED_KERNEL_NAME,
    KernelSandbox,
    isolation_refusal,
    kernel_action,
)
from grace_kernel.server._sandboxing import Placement, record_sandboxed
from grace_kernel.server._service import ServerService

__all__ = ["Containment"]


class Containment:
    """Signals in, bursts out, and the configured action taken on each burst."""

    def __init__(
        self,
        serverapp: Any,
        service: ServerService,
        *,
        action: BurstAction,
        triggers: list[Trigger],
    ) -> None:
        self.serverapp, self.service = serverapp, service
        self.action, self.triggers = action, triggers
        self.tasks: set[asyncio.Task[None]] = set()
        # What the recent bursts led to (newest last).
        self.done: collections.deque[dict[str, Any]] = collections.deque(maxlen=100)

    def signal(
        self, kernel_id: str, kind: str, severity: Severity, detail: str, *, notebook: str
    ) -> None:
        """One signal from a kernel's websocket; a burst starts its containment."""
        found = Signal(f"kernel:{kernel_id}", kind, severity, detail, time.monotonic())
        for trigger in self.triggers:
            burst = trigger.observe(found)
            if burst is not None:
                task = asyncio.ensure_future(self._contain(burst, kernel_id, notebook))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                return

    async def _contain(self, burst: Burst, kernel_id: str, notebook: str) -> None:
        log = self.serverapp.log
        log.warning("Grace: %s; action: %s", burst.summary, self.action.value)
        action, outcome = self.action.value, "recorded"
        try:
            if self.action is BurstAction.ISOLATE:
                action, outcome = await self._isolate(burst, kernel_id, notebook)
            elif self.action is BurstAction.SAFE:
                outcome = self._safe(burst)
        except Exception as exc:  # containment must not fail silently: say so, go safe
            log.error("Grace: containing %s failed: %s", burst.source, exc)
            action, outcome = "safe", f"{self.action.value} failed ({exc}); " + self._safe(burst)
        self._record(burst, kernel_id, notebook, action, outcome)

    async def _isolate(self, burst: Burst, kernel_id: str, notebook: str) -> tuple[str, str]:
        kernels = self.service.kernels
        km = self.serverapp.kernel_manager
        if kernels is None or kernel_id not in km:
            return "none", "the kernel is no longer running"
        manager = km.get_kernel(kernel_id)
        if manager.kernel_name == SANDBOXED_KERNEL_NAME:
            return "safe", "the kernel already runs sandboxed; " + self._safe(burst)
        report = await asyncio.to_thread(probe)
        reason = f"isolated after a burst: {burst.summary}"
        decision = self.service.workspace.governance.govern(
            kernel_action(
                SANDBOXED_KERNEL_NAME,
                report.level,
                principal=Principal.service("jupyter-server"),
                detail={"notebook": notebook, "reasons": [reason]},
            )
        )
        if not decision.allowed:
            refused = isolation_refusal(decision, report, report.level)
            return "safe", f"isolation refused ({refused}); " + self._safe(burst)
        requested = str(manager.kernel_name)
        await kernels.isolate(kernel_id, SANDBOXED_KERNEL_NAME)
        sandbox = getattr(km.get_kernel(kernel_id).provisioner, "sandbox", None)
        if not isinstance(sandbox, KernelSandbox):
            raise RuntimeError(f"kernel {kernel_id} did not restart in the sandbox")
        path = None if notebook.startswith("kernel:") else Path(self.serverapp.root_dir) / notebook
        record_sandboxed(
            self.service,
            kernel_id=kernel_id,
            placement=Placement(requested, SANDBOXED_KERNEL_NAME, path, (reason,)),
            notebook=notebook,
            sandbox=sandbox,
            mode="untrusted",
            decision_id=decision.decision_id,
            decision_index=decision.ledger_index,
        )
        layers = ", ".join(sandbox.layers)
        return "isolate", f"restarted in the sandbox at level {sandbox.level} ({layers})"

    def _safe(self, burst: Burst) -> str:
        self.service.supervisor.contain(Mode.SAFE, f"Hunter burst: {burst.summary}")
        return "Grace is in safe mode until a person sets it back (grace mode set normal)"

    def _record(
        self, burst: Burst, kernel_id: str, notebook: str, action: str, outcome: str
    ) -> None:
        self.done.append({"kernel_id": kernel_id, "action": action, "outcome": outcome})
        component = f"kernel:{kernel_id}"
        self.service.supervisor.observe(
            CheckResult(component=component, health=Health.FAILED, detail=burst.summary),
            actions=[{"component": component, "action": action, "detail": outcome}],
        )
        predicate = {
            **burst.to_json(),
            "kernel_id": kernel_id,
            "notebook": notebook,
            "action": action,
            "configured": self.action.value,
            "outcome": outcome,
        }
        subjects, body = health_record(component, predicate)
        try:
            self.service.workspace.ledger.append(
                subjects=subjects, predicate_type=HEALTH_TRIGGER, predicate=body
            )
        except GraceError:  # the store may be what is down: spooled like a cell record
            self.service.spool.put(HEALTH_TRIGGER, subjects, body)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
