"""A workspace's standard components, and the governed manual mode change."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from grace_kernel.governance import Action, ActionKind, Principal
from grace_kernel.health._checks import LoopMonitor, ProcessPressure, policy_check, scanner_check
from grace_kernel.health._model import Mode
from grace_kernel.health._records import HEALTH_TRANSITION, append_health_record
from grace_kernel.health._registry import Component, Registry
from grace_kernel.health._store import StoreKeeper
from grace_kernel.health._supervisor import MANUAL_META, Supervisor
from grace_kernel.hunter import Scanner
from grace_kernel.workspace import Workspace

__all__ = ["set_manual_mode", "workspace_supervisor"]


def workspace_supervisor(
    workspace: Workspace,
    *,
    scanner: Callable[[], Scanner] | None = None,
    restart_scanner: Callable[[], None] | None = None,
    loops: Iterable[tuple[LoopMonitor, Callable[[], None] | None]] = (),
    keeper: StoreKeeper | None = None,
    **options: Any,
) -> Supervisor:
    """The store (critical), the policy engine (critical), the Hunter scanner, each
    background loop (depends on the store) and the process's memory/CPU pressure.

    Without ``scanner`` the supervisor watches a scanner of its own, restarted
    by building it again from the default rules.  ``options`` go to
    :class:`Supervisor` (clock, windows, backoff, ...).
    """
    keeper = keeper or StoreKeeper(workspace)
    if scanner is None:
        own = [Scanner()]
        scanner = lambda: own[0]  # noqa: E731 - a one-line accessor
        restart_scanner = lambda: own.__setitem__(0, Scanner())  # noqa: E731
    registry = Registry(
        [
            Component("store", keeper.check, restart=keeper.restart, critical=True),
            Component("policy", policy_check(workspace.governance.engine), critical=True),
            Component("scanner", scanner_check(scanner), restart=restart_scanner),
            Component("process", ProcessPressure().check),
        ]
    )
    for monitor, restart in loops:
        registry.add(Component(monitor.name, monitor.check, depends_on=("store",), restart=restart))
    return Supervisor(workspace, registry, on_store_healthy=[keeper.backup], **options)


def set_manual_mode(
    workspace: Workspace, mode: Mode, *, principal: Principal, reason: str
) -> dict[str, Any]:
    """``grace mode set``: governed as ``config.change`` on ``health.mode`` (approval needed).

    The approval is bound to the target mode (``sha256`` of ``health.mode=<mode>``).
    A manual mode is a floor: the supervisor never goes below it; ``normal``
    removes the floor.  Raises ``ApprovalRequired`` or ``PolicyDenied``.
    """
    target = f"health.mode={mode.value}"
    action = Action(
        kind=ActionKind.CONFIG_CHANGE,
        principal=principal,
        resource="health.mode",
        facts={"sha256": hashlib.sha256(target.encode()).hexdigest()},
        detail={"mode": mode.value, "reason": reason},
    )
    with workspace.governance.governed(action) as decision:
        ledger = workspace.ledger
        with ledger.store.write() as txn:
            before = txn.get_meta("health.mode") or "normal"
            txn.set_meta(MANUAL_META, mode.value)
            txn.set_meta("health.mode", mode.value)
        record = {
            "from": before,
            "to": mode.value,
            "cause": f"set by hand by {principal.label}: {reason}",
            "incident": None,
            "approval_id": decision.approval_id,
        }
        entry = append_health_record(ledger, HEALTH_TRANSITION, "health.mode", record)
    return {**record, "ledger_index": entry.index}
