"""Self-healing (issue 8): components, checks, the supervisor, modes and incidents.

- :class:`Registry` of :class:`Component` (check, dependencies, restart, criticality);
- checks: :class:`StoreKeeper` (the ledger's SQLite file, with verified backups
  and restore), :func:`policy_check`, :func:`scanner_check`, :class:`LoopMonitor`,
  :class:`ProcessPressure`; each is bounded by :func:`run_bounded`;
- :class:`Supervisor`: restarts with :class:`Backoff` and :class:`Intensity`,
  cascade detection (:func:`roots`), the :class:`Mode`, :class:`Incident` records;
- :func:`workspace_supervisor` wires the standard components of a workspace;
  :func:`set_manual_mode` is what ``grace mode set`` does once governance allows it;
- :class:`RecordSpool`: records the store could not take, kept on disk until it can;
- triggers: :class:`Signal` s from one kernel, :class:`BurstDetector` (a
  :class:`Trigger`) and the :class:`BurstAction` a :class:`Burst` calls for.
"""

from grace_kernel.health._backoff import Backoff, Intensity
from grace_kernel.health._cascade import mode_for, roots
from grace_kernel.health._checks import (
    LoopMonitor,
    ProcessPressure,
    policy_check,
    run_bounded,
    scanner_check,
)
from grace_kernel.health._incidents import Incident, IncidentStore
from grace_kernel.health._model import CheckResult, Health, Mode
from grace_kernel.health._records import (
    HEALTH_INCIDENT,
    HEALTH_TRANSITION,
    HEALTH_TRIGGER,
    STORE_RESTORE,
    append_health_record,
    health_record,
)
from grace_kernel.health._registry import Component, Registry, Strategy
from grace_kernel.health._spool import RecordSpool
from grace_kernel.health._store import StoreKeeper, restore_unopened, unopenable
from grace_kernel.health._supervisor import MANUAL_META, Supervisor
from grace_kernel.health._text import heal_lines
from grace_kernel.health._triggers import Burst, BurstAction, BurstDetector, Signal, Trigger
from grace_kernel.health._wiring import set_manual_mode, workspace_supervisor

__all__ = [
    "HEALTH_INCIDENT",
    "HEALTH_TRANSITION",
    "HEALTH_TRIGGER",
    "MANUAL_META",
    "STORE_RESTORE",
    "Backoff",
    "Burst",
    "BurstAction",
    "BurstDetector",
    "CheckResult",
    "Component",
    "Health",
    "Incident",
    "IncidentStore",
    "Intensity",
    "LoopMonitor",
    "Mode",
    "ProcessPressure",
    "RecordSpool",
    "Registry",
    "Signal",
    "StoreKeeper",
    "Strategy",
    "Supervisor",
    "Trigger",
    "append_health_record",
    "heal_lines",
    "health_record",
    "mode_for",
    "policy_check",
    "restore_unopened",
    "roots",
    "run_bounded",
    "scanner_check",
    "set_manual_mode",
    "unopenable",
    "workspace_supervisor",
]
