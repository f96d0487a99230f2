"""The outcome of a governance decision."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from grace_kernel.governance._actions import Action

__all__ = ["Decision", "Effect"]


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Decision:
    """What was decided, by which policies, why, and under which obligations."""

    decision_id: str
    effect: Effect
    action: Action
    policy_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    obligations: frozenset[str] = frozenset()
    approval_id: str | None = None
    errors: tuple[str, ...] = ()
    policy_fingerprint: str | None = None
    ledger_index: int | None = None
    mode: str = "normal"  # the health mode the decision was made in

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def explain(self) -> str:
        """One paragraph a person can read: the effect, then each policy and its reason."""
        lines = [f"{self.effect.value}: {self.action.kind.value} on {self.action.resource}"]
        for pid, reason in zip(self.policy_ids, self.reasons, strict=False):
            lines.append(f"  - {pid}: {reason}")
        for reason in self.reasons[len(self.policy_ids) :]:
            lines.append(f"  - {reason}")
        if self.obligations:
            lines.append(f"  obligations: {', '.join(sorted(self.obligations))}")
        if self.approval_id:
            lines.append(f"  approval request: {self.approval_id}")
        for error in self.errors:
            lines.append(f"  error: {error}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "effect": self.effect.value,
            "action": self.action.to_json(),
            "policy_ids": list(self.policy_ids),
            "reasons": list(self.reasons),
            "obligations": sorted(self.obligations),
            "approval_id": self.approval_id,
            "errors": list(self.errors),
            "policy_fingerprint": self.policy_fingerprint,
            "ledger_index": self.ledger_index,
            "mode": self.mode,
        }
