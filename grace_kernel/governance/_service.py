"""The one governed path: decide, hold for approval, record, and tell the rest of Grace.

Every risky action in Grace goes through :meth:`Governance.govern` (or the
:meth:`Governance.governed` context manager and :meth:`Governance.governs`
decorator built on it).  Each decision, allow included, becomes one signed
ledger record (``urn:grace:predicate:governance-decision:v1``) *before* the
action runs; ``governed`` adds an ``action-outcome`` record linked to it when
the action ends.  If the decision cannot be recorded, the action is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar

from grace_kernel.errors import GraceError, InputError, PolicyError
from grace_kernel.events import ApprovalChanged, DecisionBlocked, EventBus
from grace_kernel.governance._actions import Action, ActionKind, Principal, PrincipalType
from grace_kernel.governance._approvals import ApprovalRequest, ApprovalStore
from grace_kernel.governance._decision import Decision, Effect
from grace_kernel.governance._engine import PolicyEngine
from grace_kernel.ledger import Ledger, Subject, predicate_type_urn

__all__ = [
    "APPROVAL",
    "DECISION",
    "OUTCOME",
    "ApprovalRequired",
    "Governance",
    "PolicyDenied",
]

DECISION = predicate_type_urn("governance-decision")
OUTCOME = predicate_type_urn("action-outcome")
APPROVAL = predicate_type_urn("approval")

P = ParamSpec("P")
R = TypeVar("R")


class PolicyDenied(PolicyError):
    """Governance refused the action; ``decision`` says which policies and why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"refused: {decision.action.kind.value} on {decision.action.resource}",
            hint=decision.explain(),
        )
        self.decision = decision


class ApprovalRequired(PolicyError):
    """The action waits for a person's approval; ``approval_id`` names the request."""

    def __init__(self, decision: Decision) -> None:
        assert decision.approval_id is not None  # set for every require_approval decision
        super().__init__(
            f"needs approval: {decision.action.kind.value} on {decision.action.resource} "
            f"(request {decision.approval_id})",
            hint=f"someone else runs `grace approvals approve {decision.approval_id}`; "
            + decision.explain(),
        )
        self.decision = decision
        self.approval_id = decision.approval_id


def _action_subject(action: Action) -> Subject:
    fingerprint = action.fingerprint()
    return Subject(f"action:{action.kind.value}:{fingerprint[:16]}", fingerprint)


class Governance:
    """Wires the policy engine, approvals, the ledger and events into one path."""

    def __init__(
        self,
        *,
        engine: PolicyEngine,
        ledger: Ledger,
        approvals: ApprovalStore,
        events: EventBus,
        clock: Callable[[], float] = time.time,
        mode: Callable[[], str] = lambda: "normal",
        approval_ttl: float = 900.0,
    ) -> None:
        if not 1.0 <= approval_ttl <= 7 * 86_400:
            raise InputError("approval_ttl must be between 1 second and 7 days")
        self.engine = engine
        self.ledger = ledger
        self.approvals = approvals
        self.events = events
        self._clock = clock
        self._mode = mode
        self._ttl = approval_ttl

    # ------------------------------------------------------------------ deciding

    def explain(self, action: Action) -> Decision:
        """What would be decided now, without recording anything or creating requests."""
        return self.engine.decide(action, mode=self._current_mode())

    def _current_mode(self) -> str:
        try:
            return self._mode()
        except Exception:  # an unreadable mode must not read as "normal"
            return "lockdown"

    def govern(self, action: Action) -> Decision:
        """Decide, create or consume an approval if needed, and record the decision."""
        mode = self._current_mode()
        decision = self.engine.decide(action, mode=mode)
        try:
            # Inside the try: creating or consuming an approval writes records too.
            if decision.effect is Effect.REQUIRE_APPROVAL:
                decision = self._through_approvals(action, decision, mode)
            entry = self.ledger.append(
                subjects=[_action_subject(action)],
                predicate_type=DECISION,
                predicate={**decision.to_json(), "ledger_index": None},
            )
        except GraceError as exc:
            return Decision(
                decision_id=decision.decision_id,
                effect=Effect.DENY,
                action=action,
                policy_ids=decision.policy_ids,
                reasons=("the decision could not be recorded, so the action is refused",),
                errors=(exc.message,),
                policy_fingerprint=decision.policy_fingerprint,
                mode=mode,
            )
        decision = _with_index(decision, entry.index)
        if decision.effect is not Effect.ALLOW:
            self.events.emit(
                DecisionBlocked(
                    decision_id=decision.decision_id,
                    effect=decision.effect.value,
                    action=action.kind.value,
                    principal=action.principal.label,
                    resource=action.resource,
                    policy_ids=list(decision.policy_ids),
                    reasons=list(decision.reasons),
                    approval_id=decision.approval_id,
                    ledger_index=entry.index,
                )
            )
        return decision

    def _through_approvals(self, action: Action, decision: Decision, mode: str) -> Decision:
        fingerprint = action.fingerprint()
        now = self._clock()
        approved = self.approvals.find(fingerprint, states=("approved",))
        if approved is not None:
            final = self.engine.decide(action, mode=mode, approved=True)
            if final.effect is Effect.ALLOW:
                self._move(approved, "approved", "used", by=None, note="used by the action")
            return _with_approval(final, approved.id)
        pending = self.approvals.find(fingerprint, states=("pending",))
        if pending is not None and pending.expires_at <= now:
            self._move(pending, "pending", "expired", by=None, note="not decided in time")
            pending = None
        if pending is None:
            pending = self.approvals.create(
                fingerprint=fingerprint,
                action=action.to_json(),
                requester=action.principal.label,
                person=action.principal.person,
                policy_ids=list(decision.policy_ids),
                reasons=list(decision.reasons),
                now=now,
                ttl=self._ttl,
            )
            self._record_approval(pending, by=None)
        return _with_approval(decision, pending.id)

    @contextlib.contextmanager
    def governed(self, action: Action) -> Iterator[Decision]:
        """Run the block only if governance allows it; record its outcome after.

        Raises :class:`PolicyDenied` or :class:`ApprovalRequired` instead of
        entering the block.
        """
        decision = self.govern(action)
        if decision.effect is Effect.DENY:
            raise PolicyDenied(decision)
        if decision.effect is Effect.REQUIRE_APPROVAL:
            raise ApprovalRequired(decision)
        started = time.perf_counter()
        try:
            yield decision
        except BaseException as exc:
            self._record_outcome(decision, started, f"error: {type(exc).__name__}")
            raise
        self._record_outcome(decision, started, "ok")

    def _record_outcome(self, decision: Decision, started: float, status: str) -> None:
        self.ledger.append(
            subjects=[_action_subject(decision.action)],
            predicate_type=OUTCOME,
            predicate={
                "decision_id": decision.decision_id,
                "decision_index": decision.ledger_index,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )

    def governs(
        self,
        kind: ActionKind,
        *,
        principal: Principal,
        resource: Callable[..., str],
        facts: Callable[..., Mapping[str, Any]] | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator: each call is one governed action built from the call's arguments."""

        def wrap(func: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(func)
            def call(*args: P.args, **kwargs: P.kwargs) -> R:
                action = Action(
                    kind=kind,
                    principal=principal,
                    resource=resource(*args, **kwargs),
                    facts=facts(*args, **kwargs) if facts else {},
                )
                with self.governed(action):
                    return func(*args, **kwargs)

            return call

        return wrap

    # ------------------------------------------------------------------ approvals

    def list_approvals(self, *, state: str | None = None) -> list[ApprovalRequest]:
        self.expire_stale()
        return self.approvals.list(state=state)

    def expire_stale(self) -> int:
        now = self._clock()
        expired = 0
        for request in self.approvals.list(state="pending"):
            if request.expires_at <= now:
                self._move(request, "pending", "expired", by=None, note="not decided in time")
                expired += 1
        return expired

    def approve(self, approval_id: str, *, approver: Principal, note: str = "") -> ApprovalRequest:
        """Approve a pending request: only a person other than the one it acts for."""
        request = self._pending(approval_id)
        self._check_approver(request, approver)
        action = Action.from_json(request.action)
        final = self.engine.decide(action, mode=self._current_mode(), approved=True)
        if final.effect is not Effect.ALLOW:
            return self._move(
                request,
                "pending",
                "denied",
                by=approver.label,
                note=f"policy refuses it even when approved: {'; '.join(final.reasons)}",
            )
        return self._move(request, "pending", "approved", by=approver.label, note=note or None)

    def deny(self, approval_id: str, *, approver: Principal, note: str = "") -> ApprovalRequest:
        """Deny a pending request (a person may also withdraw their own)."""
        request = self._pending(approval_id)
        if approver.type is not PrincipalType.USER:
            raise PolicyError(f"only a person can decide approval requests, not {approver.label}")
        return self._move(request, "pending", "denied", by=approver.label, note=note or None)

    def _pending(self, approval_id: str) -> ApprovalRequest:
        request = self.approvals.get(approval_id)
        if request.state == "pending" and request.expires_at <= self._clock():
            self._move(request, "pending", "expired", by=None, note="not decided in time")
            raise InputError(f"approval request {approval_id} expired unanswered")
        if request.state != "pending":
            raise InputError(f"approval request {approval_id} is already {request.state}")
        return request

    @staticmethod
    def _check_approver(request: ApprovalRequest, approver: Principal) -> None:
        if approver.type is not PrincipalType.USER:
            raise PolicyError(
                f"{approver.label} cannot approve: only a person can, and code running in a "
                "kernel or a run never can"
            )
        if approver.label == request.requester or approver.id == request.person:
            raise PolicyError(
                f"{approver.label} cannot approve request {request.id}: it acts on their own "
                "behalf (self-approval is refused)",
                hint="ask another person with the approver role",
            )

    def _move(
        self, request: ApprovalRequest, expect: str, state: str, *, by: str | None, note: str | None
    ) -> ApprovalRequest:
        moved = self.approvals.transition(
            request.id, expect=expect, state=state, by=by, now=self._clock(), note=note
        )
        self._record_approval(moved, by=by)
        return moved

    def _record_approval(self, request: ApprovalRequest, *, by: str | None) -> None:
        entry = self.ledger.append(
            subjects=[Subject(f"approval:{request.id}", request.fingerprint)],
            predicate_type=APPROVAL,
            predicate={
                "approval_id": request.id,
                "state": request.state,
                "requester": request.requester,
                "person": request.person,
                "by": by,
                "note": request.note,
                "policy_ids": request.policy_ids,
                "expires_at": request.expires_at,
            },
        )
        self.events.emit(
            ApprovalChanged(
                approval_id=request.id,
                state=request.state,
                action=str(request.action.get("kind", "")),
                requester=request.requester,
                by=by,
                ledger_index=entry.index,
            )
        )


def _with_index(decision: Decision, index: int) -> Decision:
    return dataclasses.replace(decision, ledger_index=index)


def _with_approval(decision: Decision, approval_id: str) -> Decision:
    return dataclasses.replace(decision, approval_id=approval_id)
