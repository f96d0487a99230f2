"""What health checks report, and the modes Grace runs in.

A check answers with a :class:`CheckResult`: ``ok``, ``degraded`` (working
but under pressure: low disk, slow answers) or ``failed`` (dead, hung,
corrupt, unwritable).  The supervisor turns results into a :class:`Mode`,
ordered from least to most restrictive; governance reads the mode on every
decision (``context.mode``) and the seeded policies make ``safe`` read-only
and ``lockdown`` status-only.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

__all__ = ["CheckResult", "Health", "Mode"]


class Health(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


class Mode(enum.StrEnum):
    NORMAL = "normal"
    DEGRADED = "degraded"
    SAFE = "safe"
    LOCKDOWN = "lockdown"

    @property
    def rank(self) -> int:
        return list(Mode).index(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckResult:
    """One check of one component: how it is, why, and how long the check took."""

    component: str
    health: Health
    detail: str = ""
    latency_ms: float = 0.0
    at: float = 0.0  # time.time() when the check finished
    untrusted: bool = False  # the data itself cannot be trusted (corrupt): lockdown

    @property
    def ok(self) -> bool:
        return self.health is Health.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "health": self.health.value,
            "detail": self.detail,
            "latency_ms": round(self.latency_ms, 3),
            "at": self.at,
            "untrusted": self.untrusted,
        }
