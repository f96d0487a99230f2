"""The governed path on a real workspace: records, governed(), approvals, events, fail closed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError, InputError, PolicyError
from grace_kernel.events import ApprovalChanged, DecisionBlocked, EventBus
from grace_kernel.governance import (
    APPROVAL,
    DECISION,
    OUTCOME,
    Action,
    ActionKind,
    ApprovalRequired,
    ApprovalStore,
    Effect,
    Governance,
    PolicyDenied,
    PolicyEngine,
    Principal,
    Severity,
    command_facts,
    path_facts,
)
from grace_kernel.ledger import Ledger, MemoryKeyStore, MemoryLedgerStore
from grace_kernel.workspace import Workspace
from tests.governance.conftest import (
    ALICE,
    BOB,
    KERNEL,
    SEEDED,
    FakeClock,
    action,
    cell,
    predicates,
    set_mode,
)

HIGH_CELL = cell(Severity.HIGH, principal=KERNEL)


class Recorder:
    """Collects the governance events a workspace emits."""

    def __init__(self, bus: EventBus) -> None:
        self.blocked: list[DecisionBlocked] = []
        self.approvals: list[ApprovalChanged] = []
        bus.subscribe(DecisionBlocked, self.blocked.append)
        bus.subscribe(ApprovalChanged, self.approvals.append)


@pytest.fixture
def events(ws: Workspace) -> Recorder:
    return Recorder(ws.events)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gov(ws: Workspace, clock: FakeClock) -> Governance:
    """The workspace's governance, but on a fake clock with a one-minute approval TTL."""
    return Governance(
        engine=ws.governance.engine,
        ledger=ws.ledger,
        approvals=ws.governance.approvals,
        events=ws.events,
        clock=clock,
        mode=ws.health_mode,
        approval_ttl=60.0,
    )


def approval_states(ws: Workspace, approval_id: str) -> list[str]:
    return [p["state"] for p in predicates(ws, APPROVAL) if p["approval_id"] == approval_id]


# ---------------------------------------------------------------------------- records


def test_every_decision_is_exactly_one_signed_record(ws: Workspace) -> None:
    root = ws.root
    cases = [
        (cell(), Effect.ALLOW, ["cell-clean"]),
        (cell(Severity.CRITICAL), Effect.DENY, ["cell-critical-deny"]),
        (HIGH_CELL, Effect.REQUIRE_APPROVAL, ["cell-high-approval"]),
        (
            action(ActionKind.FILE_WRITE, "../x", facts=path_facts("../x", workspace=root)),
            Effect.DENY,
            ["files-write-outside-deny"],
        ),
    ]
    for each, effect, policy_ids in cases:
        before = predicates(ws, DECISION)
        decision = ws.governance.govern(each)
        after = predicates(ws, DECISION)
        assert len(after) == len(before) + 1
        record = after[-1]
        assert decision.effect is effect
        assert record["effect"] == effect.value
        assert record["policy_ids"] == policy_ids
        assert record["decision_id"] == decision.decision_id
        assert record["mode"] == "normal"
        assert record["action"]["kind"] == each.kind.value
        assert record["action"]["principal"] == each.principal.to_json()
        assert record["_index"] == decision.ledger_index
        assert record["policy_fingerprint"] == decision.policy_fingerprint is not None
    assert ws.verify().ok


def test_decision_record_names_the_action_in_its_subject(ws: Workspace) -> None:
    decision = ws.governance.govern(cell())
    assert decision.ledger_index is not None
    _, statement = ws.ledger.entry(decision.ledger_index).decode()
    [subject] = statement.subjects
    assert subject.name == f"action:cell.execute:{cell().fingerprint()[:16]}"
    assert subject.sha256 == cell().fingerprint()


def test_explain_records_nothing_and_asks_nobody(ws: Workspace) -> None:
    size = ws.ledger.size
    decision = ws.governance.explain(HIGH_CELL)
    assert decision.effect is Effect.REQUIRE_APPROVAL
    assert decision.approval_id is None
    assert ws.ledger.size == size
    assert ws.governance.list_approvals() == []


def test_the_current_health_mode_is_used_and_recorded(ws: Workspace) -> None:
    set_mode(ws, "safe")
    decision = ws.governance.govern(cell())
    assert decision.obligations == frozenset({"read_only"})
    assert predicates(ws, DECISION)[-1]["mode"] == "safe"
    set_mode(ws, "lockdown")
    assert ws.governance.govern(cell()).policy_ids == ("mode-lockdown",)


# ---------------------------------------------------------------------------- governed()


def test_governed_runs_the_block_on_allow_and_records_its_outcome(ws: Workspace) -> None:
    ran = []
    with ws.governance.governed(cell()) as decision:
        ran.append(decision.decision_id)
    assert ran == [decision.decision_id]
    [outcome] = predicates(ws, OUTCOME)
    assert outcome["decision_id"] == decision.decision_id
    assert outcome["decision_index"] == decision.ledger_index
    assert outcome["status"] == "ok"
    assert outcome["duration_ms"] >= 0
    assert outcome["_index"] > (decision.ledger_index or 0)


def test_governed_records_an_error_outcome_when_the_block_raises(ws: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), ws.governance.governed(cell()) as decision:
        _ = 1 / 0
    [outcome] = predicates(ws, OUTCOME)
    assert outcome["decision_id"] == decision.decision_id
    assert outcome["status"] == "error: ZeroDivisionError"


def test_governed_refuses_a_denied_action_without_running_it(ws: Workspace) -> None:
    ran = False
    with (
        pytest.raises(PolicyDenied) as caught,
        ws.governance.governed(cell(Severity.CRITICAL)),
    ):
        ran = True
    assert not ran
    assert caught.value.decision.effect is Effect.DENY
    assert caught.value.decision.policy_ids == ("cell-critical-deny",)
    assert caught.value.exit_code == 3
    assert "cell-critical-deny" in caught.value.diagnostics()
    assert predicates(ws, OUTCOME) == []


def test_governed_holds_an_action_that_needs_approval(ws: Workspace) -> None:
    ran = False
    with pytest.raises(ApprovalRequired) as caught, ws.governance.governed(HIGH_CELL):
        ran = True
    assert not ran
    request = ws.governance.approvals.get(caught.value.approval_id)
    assert request.state == "pending"
    assert f"grace approvals approve {request.id}" in (caught.value.hint or "")
    assert predicates(ws, OUTCOME) == []


def test_governs_decorator_governs_each_call(ws: Workspace) -> None:
    calls: list[str] = []

    @ws.governance.governs(
        ActionKind.SHELL_RUN,
        principal=KERNEL,
        resource=lambda command: command,
        facts=lambda command: command_facts(command),
    )
    def run(command: str) -> str:
        calls.append(command)
        return f"ran {command}"

    assert run.__name__ == "run"
    assert run("ls -la") == "ran ls -la"
    with pytest.raises(ApprovalRequired):
        run("rm -rf data")
    set_mode(ws, "safe")
    with pytest.raises(PolicyDenied) as caught:
        run("ls")
    assert caught.value.decision.policy_ids == ("mode-safe-no-shell",)
    assert calls == ["ls -la"]
    [outcome] = predicates(ws, OUTCOME)
    assert outcome["status"] == "ok"
    assert [p["action"]["resource"] for p in predicates(ws, DECISION)] == [
        "ls -la",
        "rm -rf data",
        "ls",
    ]


# ---------------------------------------------------------------------------- fail closed


def closed_ledger() -> Ledger:
    ledger = Ledger(store=MemoryLedgerStore(), keys=MemoryKeyStore())
    ledger.close()
    return ledger


def test_a_decision_that_cannot_be_recorded_is_a_deny(tmp_path: Path) -> None:
    approvals = ApprovalStore(tmp_path / "approvals.db")
    gov = Governance(
        engine=PolicyEngine(seeded_dir=SEEDED),
        ledger=closed_ledger(),
        approvals=approvals,
        events=EventBus(),
        mode=lambda: "normal",
    )
    try:
        assert gov.explain(cell()).effect is Effect.ALLOW  # policy would allow it...
        decision = gov.govern(cell())
        assert decision.effect is Effect.DENY  # ...but it cannot be recorded
        assert decision.reasons == ("the decision could not be recorded, so the action is refused",)
        assert "closed" in decision.errors[0]
        # Holding for approval writes records too: that is refused the same way.
        assert gov.govern(HIGH_CELL).effect is Effect.DENY
        ran = False
        with pytest.raises(PolicyDenied), gov.governed(cell()):
            ran = True
        assert not ran
    finally:
        approvals.close()


def test_a_closed_workspace_database_refuses_actions(tmp_path: Path) -> None:
    workspace = Workspace.open(Settings(home=tmp_path / ".grace", checkpoint_interval=0.0))
    try:
        gov = Governance(
            engine=workspace.governance.engine,
            ledger=workspace.ledger,
            approvals=workspace.governance.approvals,
            events=workspace.events,
            mode=lambda: "normal",
        )
        workspace.ledger.store.close()
        decision = gov.govern(cell())
        assert decision.effect is Effect.DENY
        assert "could not be recorded" in decision.reasons[0]
        # The workspace's own governance cannot read the health mode either: lockdown.
        assert workspace.governance.govern(cell()).effect is Effect.DENY
        assert workspace.governance.explain(cell()).policy_ids == ("mode-lockdown",)
    finally:
        with contextlib.suppress(GraceError):
            workspace.close()


def test_an_unreadable_mode_counts_as_lockdown(ws: Workspace) -> None:
    def broken_mode() -> str:
        raise RuntimeError("supervisor gone")

    gov = Governance(
        engine=ws.governance.engine,
        ledger=ws.ledger,
        approvals=ws.governance.approvals,
        events=ws.events,
        mode=broken_mode,
    )
    decision = gov.govern(cell())
    assert (decision.effect, decision.policy_ids) == (Effect.DENY, ("mode-lockdown",))


# ---------------------------------------------------------------------------- approvals


def test_require_approval_creates_one_pending_request_and_reuses_it(
    ws: Workspace, events: Recorder
) -> None:
    first = ws.governance.govern(HIGH_CELL)
    again = ws.governance.govern(HIGH_CELL)
    assert first.effect is again.effect is Effect.REQUIRE_APPROVAL
    assert first.approval_id is not None
    assert again.approval_id == first.approval_id
    [request] = ws.governance.list_approvals()
    assert request.id == first.approval_id
    assert (request.state, request.requester, request.person) == ("pending", "kernel:k1", "alice")
    assert request.policy_ids == ["cell-high-approval"]
    assert request.expires_at - request.created_at == pytest.approx(900.0)
    assert Action.from_json(request.action).fingerprint() == HIGH_CELL.fingerprint()
    assert approval_states(ws, request.id) == ["pending"]
    assert [e.state for e in events.approvals] == ["pending"]
    assert [(b.effect, b.approval_id) for b in events.blocked] == [
        ("require_approval", first.approval_id),
        ("require_approval", first.approval_id),
    ]


def test_approved_request_authorizes_exactly_one_execution(ws: Workspace, events: Recorder) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    approved = ws.governance.approve(approval_id, approver=BOB, note="reviewed the finding")
    assert (approved.state, approved.decided_by, approved.note) == (
        "approved",
        "user:bob",
        "reviewed the finding",
    )

    allowed = ws.governance.govern(HIGH_CELL)
    assert allowed.effect is Effect.ALLOW
    assert allowed.approval_id == approval_id
    assert allowed.reasons[-1] == "approved by a person"
    assert ws.governance.approvals.get(approval_id).state == "used"
    assert predicates(ws, DECISION)[-1]["approval_id"] == approval_id

    third = ws.governance.govern(HIGH_CELL)
    assert third.effect is Effect.REQUIRE_APPROVAL
    assert third.approval_id not in {None, approval_id}

    assert approval_states(ws, approval_id) == ["pending", "approved", "used"]
    assert [(e.approval_id, e.state) for e in events.approvals] == [
        (approval_id, "pending"),
        (approval_id, "approved"),
        (approval_id, "used"),
        (third.approval_id, "pending"),
    ]
    assert events.approvals[1].by == "user:bob"
    indexes = [p["_index"] for p in predicates(ws, APPROVAL)]
    assert [e.ledger_index for e in events.approvals] == indexes
    assert ws.verify().ok


def test_approval_covers_only_the_same_action(ws: Workspace) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    ws.governance.approve(approval_id, approver=BOB)
    other_kernel = cell(Severity.HIGH, principal=Principal.kernel("k2", on_behalf_of="alice"))
    assert ws.governance.govern(other_kernel).effect is Effect.REQUIRE_APPROVAL
    assert ws.governance.approvals.get(approval_id).state == "approved"  # still unused


def test_denied_request_cannot_be_approved_and_the_action_asks_again(
    ws: Workspace, events: Recorder
) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    denied = ws.governance.deny(approval_id, approver=BOB, note="not today")
    assert (denied.state, denied.decided_by, denied.note) == ("denied", "user:bob", "not today")
    with pytest.raises(InputError, match="already denied"):
        ws.governance.approve(approval_id, approver=BOB)
    again = ws.governance.govern(HIGH_CELL)
    assert again.effect is Effect.REQUIRE_APPROVAL
    assert again.approval_id != approval_id
    assert approval_states(ws, approval_id) == ["pending", "denied"]
    assert [e.state for e in events.approvals] == ["pending", "denied", "pending"]


def test_requester_may_withdraw_but_code_may_not_deny(ws: Workspace) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    with pytest.raises(PolicyError, match="only a person"):
        ws.governance.deny(approval_id, approver=KERNEL)
    assert ws.governance.deny(approval_id, approver=ALICE).state == "denied"


def test_unknown_request_is_an_input_error(ws: Workspace) -> None:
    with pytest.raises(InputError, match="no approval request"):
        ws.governance.approve("apr-000000000000", approver=BOB)


def test_request_expires_unanswered(
    ws: Workspace, gov: Governance, clock: FakeClock, events: Recorder
) -> None:
    decision = gov.govern(HIGH_CELL)
    assert decision.approval_id is not None
    request = gov.approvals.get(decision.approval_id)
    assert request.expires_at == clock.now + 60.0
    clock.advance(59.0)
    assert gov.govern(HIGH_CELL).approval_id == decision.approval_id  # still pending
    clock.advance(1.0)
    with pytest.raises(InputError, match="expired unanswered"):
        gov.approve(decision.approval_id, approver=BOB)
    assert gov.approvals.get(decision.approval_id).state == "expired"
    with pytest.raises(InputError, match="already expired"):
        gov.approve(decision.approval_id, approver=BOB)
    renewed = gov.govern(HIGH_CELL)
    assert renewed.effect is Effect.REQUIRE_APPROVAL
    assert renewed.approval_id != decision.approval_id
    assert approval_states(ws, decision.approval_id) == ["pending", "expired"]
    assert [e.state for e in events.approvals] == ["pending", "expired", "pending"]


def test_stale_requests_expire_when_listed(gov: Governance, clock: FakeClock) -> None:
    first = gov.govern(HIGH_CELL).approval_id
    clock.advance(30)
    second = gov.govern(cell(Severity.HIGH, principal=ALICE)).approval_id
    clock.advance(45)  # the first is 75 s old, the second 45 s
    assert [r.id for r in gov.list_approvals(state="pending")] == [second]
    assert [r.id for r in gov.list_approvals(state="expired")] == [first]


def test_expired_pending_request_is_replaced_on_the_next_decision(
    gov: Governance, clock: FakeClock
) -> None:
    first = gov.govern(HIGH_CELL).approval_id
    clock.advance(61)
    second = gov.govern(HIGH_CELL).approval_id
    assert second != first
    assert first is not None
    assert gov.approvals.get(first).state == "expired"


@pytest.mark.parametrize(
    ("requester", "approver"),
    [
        (ALICE, ALICE),  # approver == requester
        (KERNEL, ALICE),  # approver == the person the kernel acts for
        (Principal.runner("run-1", on_behalf_of="alice"), ALICE),  # same for a run
    ],
    ids=["own-request", "own-kernel", "own-run"],
)
def test_self_approval_is_refused(
    ws: Workspace, events: Recorder, requester: Principal, approver: Principal
) -> None:
    approval_id = ws.governance.govern(cell(Severity.HIGH, principal=requester)).approval_id
    assert approval_id is not None
    with pytest.raises(PolicyError, match="self-approval") as caught:
        ws.governance.approve(approval_id, approver=approver)
    assert caught.value.exit_code == 3
    assert ws.governance.approvals.get(approval_id).state == "pending"
    assert [e.state for e in events.approvals] == ["pending"]


@pytest.mark.parametrize(
    "approver",
    [
        Principal.kernel("k9", on_behalf_of="bob"),
        Principal.kernel("k9", on_behalf_of=None),
        Principal.runner("run-9", on_behalf_of="bob"),
        Principal.service(),
    ],
    ids=["kernel-for-bob", "kernel-for-nobody", "runner", "service"],
)
def test_only_a_person_can_approve(ws: Workspace, approver: Principal) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    with pytest.raises(PolicyError, match="only a person can"):
        ws.governance.approve(approval_id, approver=approver)
    assert ws.governance.approvals.get(approval_id).state == "pending"


def test_approving_after_lockdown_ends_denied(ws: Workspace, events: Recorder) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    set_mode(ws, "lockdown")
    result = ws.governance.approve(approval_id, approver=BOB)
    assert result.state == "denied"
    assert result.decided_by == "user:bob"
    assert "policy refuses it even when approved" in (result.note or "")
    assert approval_states(ws, approval_id) == ["pending", "denied"]
    assert [e.state for e in events.approvals] == ["pending", "denied"]
    set_mode(ws, "normal")
    assert ws.governance.govern(HIGH_CELL).approval_id != approval_id


def test_approved_request_is_not_spent_while_policy_refuses(ws: Workspace) -> None:
    approval_id = ws.governance.govern(HIGH_CELL).approval_id
    assert approval_id is not None
    ws.governance.approve(approval_id, approver=BOB)
    set_mode(ws, "lockdown")
    refused = ws.governance.govern(HIGH_CELL)
    assert (refused.effect, refused.policy_ids) == (Effect.DENY, ("mode-lockdown",))
    assert ws.governance.approvals.get(approval_id).state == "approved"
    set_mode(ws, "normal")
    assert ws.governance.govern(HIGH_CELL).effect is Effect.ALLOW
    assert ws.governance.approvals.get(approval_id).state == "used"


def test_approval_ttl_is_bounded(ws: Workspace) -> None:
    for ttl in (0.5, 8 * 86_400.0):
        with pytest.raises(InputError, match="approval_ttl"):
            Governance(
                engine=ws.governance.engine,
                ledger=ws.ledger,
                approvals=ws.governance.approvals,
                events=ws.events,
                approval_ttl=ttl,
            )


# ---------------------------------------------------------------------------- events


def test_blocked_decisions_emit_events_and_allowed_ones_do_not(
    ws: Workspace, events: Recorder
) -> None:
    allowed = ws.governance.govern(cell())
    denied = ws.governance.govern(cell(Severity.CRITICAL, principal=KERNEL))
    held = ws.governance.govern(HIGH_CELL)
    assert allowed.effect is Effect.ALLOW
    summary: list[dict[str, Any]] = [
        {
            "decision_id": b.decision_id,
            "effect": b.effect,
            "principal": b.principal,
            "policy_ids": b.policy_ids,
            "approval_id": b.approval_id,
            "ledger_index": b.ledger_index,
        }
        for b in events.blocked
    ]
    assert summary == [
        {
            "decision_id": denied.decision_id,
            "effect": "deny",
            "principal": "kernel:k1",
            "policy_ids": ["cell-critical-deny"],
            "approval_id": None,
            "ledger_index": denied.ledger_index,
        },
        {
            "decision_id": held.decision_id,
            "effect": "require_approval",
            "principal": "kernel:k1",
            "policy_ids": ["cell-high-approval"],
            "approval_id": held.approval_id,
            "ledger_index": held.ledger_index,
        },
    ]
    assert events.blocked[0].reasons == [
        "a critical finding (e.g. a live secret, a download piped to a shell) is never run"
    ]


def test_ledger_verifies_after_a_full_approval_story(
    ws: Workspace, gov: Governance, clock: FakeClock
) -> None:
    for severity in Severity:
        ws.governance.govern(cell(severity))
    first = ws.governance.govern(HIGH_CELL).approval_id
    assert first is not None
    ws.governance.approve(first, approver=BOB)
    with ws.governance.governed(HIGH_CELL):
        pass
    second = gov.govern(cell(Severity.HIGH, principal=Principal.user("carol"))).approval_id
    clock.advance(3600)
    assert second is not None
    with pytest.raises(InputError):
        gov.approve(second, approver=BOB)
    set_mode(ws, "lockdown")
    third = ws.governance.govern(cell(Severity.HIGH, principal=BOB)).approval_id
    assert third is None  # lockdown denies outright; nothing to approve
    report = ws.verify()
    assert report.ok, report.problem
    assert report.size == ws.ledger.size
