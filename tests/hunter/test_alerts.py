"""Alerts and tasks: deduplicated, stateful, signed, and fed by blocked governance decisions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grace_kernel import Settings, Workspace
from grace_kernel.errors import InputError
from grace_kernel.governance import Action, ActionKind, Principal, path_facts
from grace_kernel.hunter import Severity
from grace_kernel.hunter._alerts import ALERT


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(Settings(home=tmp_path / ".grace"))
    yield workspace
    workspace.close()


def _alert_records(ws: Workspace) -> list[dict[str, object]]:
    records = []
    for entry in ws.ledger.tail(10_000):
        _, statement = entry.decode()
        if statement.predicate_type == ALERT:
            records.append(dict(statement.predicate))
    return records


def _raise(ws: Workspace, fingerprint: str, severity: Severity) -> str:
    return ws.alerts.raise_alert(
        fingerprint=fingerprint,
        rule_id="GRC-PY-001",
        severity=severity,
        source="scan",
        title="eval of input",
        location="analysis.py:3",
        evidence="eval(input())",
    ).id


def test_the_same_finding_is_one_alert_counted_twice(ws: Workspace) -> None:
    first = _raise(ws, "fp-1", Severity.MEDIUM)
    second = _raise(ws, "fp-1", Severity.MEDIUM)
    assert first == second
    alert = ws.alerts.get(first)
    assert alert.count == 2
    assert len(ws.alerts.list()) == 1
    assert len(_alert_records(ws)) == 1  # creation is recorded once, sightings are counted


def test_high_and_critical_alerts_open_a_task_with_an_owner(ws: Workspace) -> None:
    medium = ws.alerts.get(_raise(ws, "fp-m", Severity.MEDIUM))
    high = ws.alerts.get(_raise(ws, "fp-h", Severity.HIGH))
    assert medium.task_state is None
    assert (high.task_owner, high.task_state) == ("unassigned", "open")
    assigned = ws.alerts.assign(high.id, owner="alice", by="user:bob")
    assert assigned.task_owner == "alice"
    with pytest.raises(InputError, match="no task"):
        ws.alerts.assign(medium.id, owner="alice", by="user:bob")


def test_states_move_forward_only_and_every_change_is_signed(ws: Workspace) -> None:
    alert_id = _raise(ws, "fp-s", Severity.HIGH)
    assert ws.alerts.move(alert_id, "ack", by="user:bob").state == "acknowledged"
    resolved = ws.alerts.move(alert_id, "resolve", by="user:bob", note="patched")
    assert (resolved.state, resolved.task_state, resolved.note) == ("resolved", "done", "patched")
    with pytest.raises(InputError, match="is resolved"):
        ws.alerts.move(alert_id, "ack", by="user:bob")
    states = [r["state"] for r in _alert_records(ws) if r["alert_id"] == alert_id]
    assert states == ["open", "acknowledged", "resolved"]
    assert ws.verify().ok


def test_false_positives_are_kept_with_who_said_so(ws: Workspace) -> None:
    alert_id = _raise(ws, "fp-fp", Severity.LOW)
    marked = ws.alerts.move(alert_id, "false-positive", by="user:carol", note="test fixture")
    assert (marked.state, marked.changed_by) == ("false-positive", "user:carol")
    assert ws.alerts.list(state="false-positive")[0].id == alert_id
    last = _alert_records(ws)[-1]
    assert (last["state"], last["by"], last["note"]) == (
        "false-positive",
        "user:carol",
        "test fixture",
    )


def test_a_blocked_governance_decision_becomes_an_alert(ws: Workspace, tmp_path: Path) -> None:
    action = Action(
        kind=ActionKind.FILE_WRITE,
        principal=Principal.kernel("k1", on_behalf_of="alice"),
        resource="../outside.txt",
        facts=path_facts("../outside.txt", workspace=tmp_path),
    )
    decision = ws.governance.govern(action)
    assert decision.effect.value == "deny"
    [alert] = ws.alerts.list()
    assert alert.source == "governance"
    assert alert.rule_id == "files-write-outside-deny"
    assert alert.severity == "high"
    assert f"ledger record {decision.ledger_index}" in alert.evidence
    ws.governance.govern(action)
    assert ws.alerts.get(alert.id).count == 2


def test_unknown_alerts_and_actions_are_clear_errors(ws: Workspace) -> None:
    with pytest.raises(InputError, match="no alert"):
        ws.alerts.get("alt-missing")
    alert_id = _raise(ws, "fp-x", Severity.LOW)
    with pytest.raises(InputError, match="unknown alert action"):
        ws.alerts.move(alert_id, "delete", by="user:bob")
    with pytest.raises(InputError, match="state must be one of"):
        ws.alerts.list(state="closed")
