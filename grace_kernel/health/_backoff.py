"""When to try a restart again, and when to stop trying.

:class:`Backoff` spaces restarts exponentially with jitter (so components that
fail together do not retry in lock-step); :class:`Intensity` counts restarts
in a sliding window and says when there were too many (Erlang/OTP's
``intensity``/``period``): then the supervisor escalates instead of looping.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable

__all__ = ["Backoff", "Intensity"]


class Backoff:
    """Delays ``base * factor**n`` capped at ``cap``, each scaled by ``1 ± jitter``."""

    def __init__(
        self,
        *,
        base: float = 0.1,
        factor: float = 2.0,
        cap: float = 30.0,
        jitter: float = 0.2,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or factor < 1 or cap < base or not 0 <= jitter < 1:
            raise ValueError("backoff needs base > 0, factor >= 1, cap >= base, 0 <= jitter < 1")
        self.base, self.factor, self.cap, self.jitter = base, factor, cap, jitter
        self._rng = rng
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        raw = min(self.base * self.factor**self.attempts, self.cap)
        self.attempts += 1
        return raw * (1 + self.jitter * (2 * self._rng() - 1))

    def reset(self) -> None:
        self.attempts = 0


class Intensity:
    """At most ``max_restarts`` restarts in any ``period`` seconds."""

    def __init__(self, *, max_restarts: int = 5, period: float = 60.0) -> None:
        if max_restarts < 1 or period <= 0:
            raise ValueError("intensity needs max_restarts >= 1 and period > 0")
        self.max_restarts, self.period = max_restarts, period
        self._times: collections.deque[float] = collections.deque()

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.period:
            self._times.popleft()

    def allow(self, now: float) -> bool:
        """Record a restart at ``now`` if within the limit; False means escalate."""
        self._trim(now)
        if len(self._times) >= self.max_restarts:
            return False
        self._times.append(now)
        return True

    def recent(self, now: float) -> int:
        self._trim(now)
        return len(self._times)
