"""Triggers: security signals from one kernel that, in a burst, call for containment.

A :class:`Signal` is one high-severity thing seen about a source (a kernel):
a cell Hunter found high or critical findings in, or an operation the runtime
guard blocked.  A :class:`Trigger` looks at each signal and answers with a
:class:`Burst` when it is time to act; :class:`BurstDetector` is the
rule-based one (``threshold`` signals from one source within ``window``
seconds).  A learned anomaly model plugs in behind the same
:class:`Trigger` protocol.  What is done about a burst (isolate the kernel in
the sandbox, or move Grace to safe mode) is the caller's configured action.

Pure: no I/O, the clock is injected.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import time
from collections.abc import Callable
from typing import Any, Protocol

from grace_kernel.governance import Severity

__all__ = ["Burst", "BurstAction", "BurstDetector", "Signal", "Trigger"]


class BurstAction(enum.Enum):
    """What a burst makes the server do."""

    ISOLATE = "isolate"  # restart the kernel in the sandbox provisioner
    SAFE = "safe"  # raise Grace's mode floor to safe (a person lowers it, with approval)
    NONE = "none"  # record the burst, do nothing else


@dataclasses.dataclass(frozen=True)
class Signal:
    """One security signal about ``source`` (e.g. ``kernel:<id>``)."""

    source: str
    kind: str  # "findings" | "guard-block"
    severity: Severity
    detail: str
    at: float  # the detector's clock


@dataclasses.dataclass(frozen=True)
class Burst:
    """Enough signals from one source, close enough together, to act on."""

    source: str
    signals: tuple[Signal, ...]
    window: float
    trigger: str

    @property
    def summary(self) -> str:
        kinds = collections.Counter(s.kind for s in self.signals)
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        span = self.signals[-1].at - self.signals[0].at
        return (
            f"{len(self.signals)} high-severity signals from {self.source} in {span:.1f} s "
            f"({counted}; {self.trigger})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "trigger": self.trigger,
            "window_s": self.window,
            "signals": [
                {"kind": s.kind, "severity": s.severity.name.lower(), "detail": s.detail[:200]}
                for s in self.signals
            ],
        }


class Trigger(Protocol):
    """Looks at every signal; answers a :class:`Burst` when containment is due."""

    def observe(self, signal: Signal) -> Burst | None: ...


class BurstDetector:
    """``threshold`` signals at ``min_severity`` or above from one source within ``window`` s.

    After a burst the source's count starts again from zero, so a kernel that
    keeps misbehaving triggers again only after another full burst.
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        window: float = 60.0,
        min_severity: Severity = Severity.HIGH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError("a burst needs at least one signal")
        if window <= 0:
            raise ValueError("the window must be positive")
        self.threshold, self.window, self.min_severity = threshold, window, min_severity
        self.clock = clock
        self._seen: dict[str, collections.deque[Signal]] = {}

    @property
    def name(self) -> str:
        return f"rule: {self.threshold} in {self.window:g} s at {self.min_severity.name.lower()}+"

    def observe(self, signal: Signal) -> Burst | None:
        if signal.severity < self.min_severity:
            return None
        seen = self._seen.setdefault(signal.source, collections.deque())
        seen.append(signal)
        while seen and signal.at - seen[0].at > self.window:
            seen.popleft()
        if len(seen) < self.threshold:
            return None
        burst = Burst(signal.source, tuple(seen), self.window, self.name)
        seen.clear()
        return burst

    def forget(self, source: str) -> None:
        """A source that went away (a kernel shut down)."""
        self._seen.pop(source, None)
