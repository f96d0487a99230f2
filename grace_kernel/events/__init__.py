"""Typed, versioned events and an in-process bus.

Each event is a frozen dataclass with a stable ``SCHEMA_ID`` and ``VERSION``;
its JSON form is described by ``schemas/<name>/v<version>.yaml`` (JSON Schema),
which the server extension registers with jupyter_events so the frontend can
subscribe.  No free-form dicts cross a subsystem boundary: subscribers receive
the typed object.

A failing subscriber never breaks the emitter: its exception is kept in
:attr:`EventBus.failures` (bounded) and the other subscribers still run.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, TypeVar

__all__ = [
    "AlertChanged",
    "ApprovalChanged",
    "CheckpointWritten",
    "DecisionBlocked",
    "Event",
    "EventBus",
    "GuardBlocked",
    "HealthChanged",
    "KernelSandboxed",
    "PolicyReloadFailed",
    "schema_path",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    SCHEMA_ID: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecisionBlocked(Event):
    """Governance denied an action or held it for approval (feeds security alerts)."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/governance/decision-blocked"

    decision_id: str
    effect: str
    action: str
    principal: str
    resource: str
    policy_ids: list[str]
    reasons: list[str]
    approval_id: str | None
    ledger_index: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyReloadFailed(Event):
    """A policy edit did not load; the last good policy set stays active."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/governance/policy-reload-failed"

    files: list[str]
    problem: str
    active_fingerprint: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApprovalChanged(Event):
    """An approval request was created or changed state."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/governance/approval-changed"

    approval_id: str
    state: str
    action: str
    requester: str
    by: str | None
    ledger_index: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class GuardBlocked(Event):
    """The in-kernel runtime guard refused an operation while a cell ran."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/kernel/guard-blocked"

    event: str
    target: str
    policy_id: str
    reason: str
    principal: str
    cell: str
    record_index: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class KernelSandboxed(Event):
    """The server started a kernel inside the OS sandbox (and recorded why)."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/sandbox/kernel-sandboxed"

    kernel_id: str
    kernel_name: str
    notebook: str | None
    level: int
    layers: list[str]
    reasons: list[str]
    record_index: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlertChanged(Event):
    """An alert was opened or changed state (ack, resolve, false positive, task)."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/hunter/alert-changed"

    alert_id: str
    state: str
    rule_id: str
    severity: str
    source: str
    title: str
    location: str
    by: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckpointWritten(Event):
    """A signed checkpoint now covers the ledger up to ``size``."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/ledger/checkpoint-written"

    origin: str
    size: int
    root: str  # hex


@dataclasses.dataclass(frozen=True, kw_only=True)
class HealthChanged(Event):
    """The health mode changed, or an incident opened or closed (the supervisor)."""

    SCHEMA_ID: ClassVar[str] = "https://events.grace.dev/health/health-changed"

    change: str  # "mode" | "incident-opened" | "incident-closed"
    mode: str  # the mode governance decides with now
    cause: str
    incident: str | None


E = TypeVar("E", bound=Event)


class EventBus:
    """Synchronous publish/subscribe by event type; built explicitly, never global."""

    def __init__(self) -> None:
        self._subscribers: dict[type[Event], list[Callable[[Any], None]]] = {}
        self.failures: deque[tuple[str, str]] = deque(maxlen=100)

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler`` for every event of ``kind``; returns an unsubscribe function."""
        handlers = self._subscribers.setdefault(kind, [])
        handlers.append(handler)
        return lambda: handlers.remove(handler)

    def emit(self, event: Event) -> None:
        for handler in list(self._subscribers.get(type(event), ())):
            try:
                handler(event)
            except Exception as exc:  # a subscriber's bug must not break the emitter
                self.failures.append((event.SCHEMA_ID, f"{type(exc).__name__}: {exc}"))


def schema_path(event: type[Event]) -> Path:
    """The JSON Schema (YAML) file that describes ``event``'s JSON form."""
    name = event.SCHEMA_ID.rstrip("/").rsplit("/", 1)[-1]
    base = resources.files("grace_kernel.events") / "schemas" / name / f"v{event.VERSION}.yaml"
    return Path(str(base))
