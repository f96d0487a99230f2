"""Governance events: their JSON matches the published schemas; the bus survives bad subscribers."""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints
import pytest
import yaml

from grace_kernel.events import (
    AlertChanged,
    ApprovalChanged,
    CheckpointWritten,
    DecisionBlocked,
    Event,
    EventBus,
    GuardBlocked,
    HealthChanged,
    PolicyReloadFailed,
    schema_path,
)
from grace_kernel.governance import Severity
from grace_kernel.workspace import Workspace
from tests.governance.conftest import BOB, KERNEL, cell

SAMPLES: list[Event] = [
    DecisionBlocked(
        decision_id="d1",
        effect="deny",
        action="cell.execute",
        principal="kernel:k1",
        resource="cell-1",
        policy_ids=["cell-critical-deny"],
        reasons=["a critical finding"],
        approval_id=None,
        ledger_index=3,
    ),
    DecisionBlocked(
        decision_id="d2",
        effect="require_approval",
        action="shell.run",
        principal="user:alice",
        resource="make",
        policy_ids=["shell-approval"],
        reasons=["needs approval"],
        approval_id="apr-0123456789ab",
        ledger_index=None,
    ),
    PolicyReloadFailed(
        files=["/p/30-shell.cedar"], problem="/p/30-shell.cedar:4: bad", active_fingerprint="ab12"
    ),
    PolicyReloadFailed(files=[], problem="no schema", active_fingerprint=None),
    ApprovalChanged(
        approval_id="apr-0123456789ab",
        state="pending",
        action="cell.execute",
        requester="kernel:k1",
        by=None,
        ledger_index=5,
    ),
    ApprovalChanged(
        approval_id="apr-0123456789ab",
        state="approved",
        action="cell.execute",
        requester="kernel:k1",
        by="user:bob",
        ledger_index=6,
    ),
    GuardBlocked(
        event="os.system",
        target="touch x",
        policy_id="shell-approval",
        reason="needs approval",
        principal="kernel:k1",
        cell="nb.ipynb#c1",
        record_index=None,
    ),
    AlertChanged(
        alert_id="alt-0123456789",
        state="open",
        rule_id="cell-critical-deny",
        severity="high",
        source="governance",
        title="deny: cell.execute",
        location="cell-1",
        by=None,
    ),
    CheckpointWritten(origin="grace/abc", size=12, root="00" * 32),
    HealthChanged(change="mode", mode="safe", cause="store: not writable", incident="inc-1"),
    HealthChanged(change="incident-closed", mode="normal", cause="scanner raised", incident="i2"),
]

ALL_KINDS = [
    DecisionBlocked,
    PolicyReloadFailed,
    ApprovalChanged,
    GuardBlocked,
    AlertChanged,
    CheckpointWritten,
    HealthChanged,
]


def load_schema(kind: type[Event]) -> dict[str, Any]:
    path = schema_path(kind)
    assert path.is_file(), path
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def validate(event: Event) -> None:
    schema = load_schema(type(event))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(event.to_json(), schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_event_type_has_a_schema_under_its_id(kind: type[Event]) -> None:
    schema = load_schema(kind)
    assert schema["$id"] == kind.SCHEMA_ID
    assert schema["version"] == str(kind.VERSION)
    assert schema_path(kind).parent.name == kind.SCHEMA_ID.rsplit("/", 1)[-1]
    assert set(schema["required"]) == {f.name for f in dataclasses.fields(kind)}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: f"{type(e).__name__}")
def test_event_json_validates_against_its_schema(event: Event) -> None:
    validate(event)


def test_schema_rejects_what_the_event_never_sends() -> None:
    schema = load_schema(DecisionBlocked)
    body = SAMPLES[0].to_json()
    for bad in ({**body, "effect": "allow"}, {**body, "extra": 1}, {**body, "ledger_index": "3"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_events_emitted_by_a_real_workspace_validate(ws: Workspace) -> None:
    seen: list[Event] = []
    for kind in (DecisionBlocked, ApprovalChanged, PolicyReloadFailed):
        ws.events.subscribe(kind, seen.append)
    ws.governance.govern(cell(Severity.CRITICAL))
    approval_id = ws.governance.govern(cell(Severity.HIGH, principal=KERNEL)).approval_id
    assert approval_id is not None
    ws.governance.approve(approval_id, approver=BOB)
    ws.governance.govern(cell(Severity.HIGH, principal=KERNEL))
    assert [type(e).__name__ for e in seen] == [
        "DecisionBlocked",  # critical: deny
        "ApprovalChanged",  # pending
        "DecisionBlocked",  # require_approval
        "ApprovalChanged",  # approved
        "ApprovalChanged",  # used (the allow itself emits no DecisionBlocked)
    ]
    for event in seen:
        validate(event)


def test_alerts_and_checkpoints_are_events_too(ws: Workspace) -> None:
    seen: list[Event] = []
    ws.events.subscribe(AlertChanged, seen.append)
    ws.events.subscribe(CheckpointWritten, seen.append)
    ws.governance.govern(cell(Severity.CRITICAL))  # a denial opens an alert
    checkpoint = ws.ledger.checkpoint()
    assert checkpoint is not None
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["AlertChanged", "CheckpointWritten"]
    assert seen[1] == CheckpointWritten(
        origin=checkpoint.origin, size=checkpoint.size, root=checkpoint.root.hex()
    )
    for event in seen:
        validate(event)


def test_jupyter_events_accepts_every_schema() -> None:
    from jupyter_events import EventLogger

    logger = EventLogger()
    for kind in ALL_KINDS:
        logger.register_event_schema(schema_path(kind))
    for event in SAMPLES:
        logger.emit(schema_id=event.SCHEMA_ID, data=event.to_json())


def test_a_raising_subscriber_does_not_break_emit() -> None:
    bus = EventBus()
    received: list[Event] = []

    def broken(event: DecisionBlocked) -> None:
        raise ValueError(f"cannot handle {event.decision_id}")

    bus.subscribe(DecisionBlocked, broken)
    bus.subscribe(DecisionBlocked, received.append)
    bus.emit(SAMPLES[0])
    bus.emit(SAMPLES[1])
    assert received == SAMPLES[:2]  # later subscribers still ran
    assert list(bus.failures) == [
        (DecisionBlocked.SCHEMA_ID, "ValueError: cannot handle d1"),
        (DecisionBlocked.SCHEMA_ID, "ValueError: cannot handle d2"),
    ]


def test_failures_are_bounded_and_unsubscribe_works() -> None:
    bus = EventBus()

    def broken(_: PolicyReloadFailed) -> None:
        raise RuntimeError("boom")

    unsubscribe = bus.subscribe(PolicyReloadFailed, broken)
    for _ in range(150):
        bus.emit(SAMPLES[2])
    assert len(bus.failures) == 100
    unsubscribe()
    bus.emit(SAMPLES[2])
    assert len(bus.failures) == 100
    bus.failures.clear()
    bus.emit(SAMPLES[2])
    assert not bus.failures


def test_subscribers_receive_only_their_event_type() -> None:
    bus = EventBus()
    approvals: list[ApprovalChanged] = []
    bus.subscribe(ApprovalChanged, approvals.append)
    bus.emit(SAMPLES[0])
    bus.emit(SAMPLES[4])
    assert approvals == [SAMPLES[4]]
