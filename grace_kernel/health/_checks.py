"""Health checks that need no database: the bound every check runs under, the
policy engine, the Hunter scanner, background loops and process pressure.

Every check returns a :class:`CheckResult` and never raises: :func:`run_bounded`
turns an exception or a check that does not answer in time into ``failed``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from grace_kernel.governance import PolicyEngine
from grace_kernel.health._model import CheckResult, Health
from grace_kernel.hunter import Scanner

__all__ = [
    "LoopMonitor",
    "ProcessPressure",
    "policy_check",
    "result",
    "run_bounded",
    "scanner_check",
]

# A snippet with one known finding: shell injection from input (GRC-PY-048).
PROBE_SOURCE = "import os\nos.system(input())\n"
PROBE_RULE = "GRC-PY-048"


def result(component: str, health: Health, detail: str = "", **extra: bool) -> CheckResult:
    return CheckResult(component=component, health=health, detail=detail, at=time.time(), **extra)


def run_bounded(name: str, check: Callable[[], CheckResult], timeout: float) -> CheckResult:
    """Run ``check`` on a daemon thread; failed if it raises or takes longer than ``timeout``.

    A check that overruns is abandoned (its thread finishes on its own); the
    supervisor is never stuck behind it.
    """
    box: list[CheckResult | BaseException] = []
    started = time.perf_counter()

    def work() -> None:
        try:
            box.append(check())
        except BaseException as exc:  # a check must never take the supervisor down
            box.append(exc)

    thread = threading.Thread(target=work, name=f"grace-check-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    latency = (time.perf_counter() - started) * 1000
    if not box:
        found = result(name, Health.FAILED, f"the check did not answer within {timeout:g} s")
    elif isinstance(box[0], BaseException):
        exc = box[0]
        found = result(name, Health.FAILED, f"the check raised {type(exc).__name__}: {exc}")
    else:
        found = box[0]
    return CheckResult(
        component=name,
        health=found.health,
        detail=found.detail,
        latency_ms=latency,
        at=found.at or time.time(),
        untrusted=found.untrusted,
    )


def policy_check(engine: PolicyEngine, name: str = "policy") -> Callable[[], CheckResult]:
    """Failed with no policy set loaded (everything is refused); degraded when the
    newest edit failed to load and the previous set still decides."""

    def check() -> CheckResult:
        engine.maybe_reload()
        active = engine.active
        if active is None:
            return result(name, Health.FAILED, f"no policy set loaded: {engine.last_error}")
        if engine.last_error:
            return result(
                name,
                Health.DEGRADED,
                f"an edit failed to load: {engine.last_error}; "
                f"set {active.fingerprint} still decides",
            )
        return result(name, Health.OK, f"{len(active.policies)} policies ({active.fingerprint})")

    return check


def scanner_check(
    get_scanner: Callable[[], Scanner], name: str = "scanner"
) -> Callable[[], CheckResult]:
    """Scan a tiny snippet whose finding is known; a missing finding or an exception fails."""

    def check() -> CheckResult:
        findings = get_scanner().scan_code(PROBE_SOURCE)
        if PROBE_RULE not in {f.rule.id for f in findings}:
            return result(name, Health.FAILED, f"the probe snippet no longer yields {PROBE_RULE}")
        return result(name, Health.OK, f"probe found {PROBE_RULE}")

    return check


class LoopMonitor:
    """A background loop's heartbeat: the loop calls :meth:`tick` every ``period`` seconds.

    The check fails when the last tick is older than ``k * period`` (stuck)
    or the thread that ticked has died.
    """

    def __init__(
        self,
        name: str,
        *,
        period: float,
        k: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if period <= 0 or k < 1:
            raise ValueError("a loop monitor needs period > 0 and k >= 1")
        self.name, self.period, self.k = name, period, k
        self._clock = clock
        self._started = clock()
        self._last: float | None = None
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def tick(self) -> None:
        self._last = self._clock()
        self._thread = threading.current_thread()
        self.ticks += 1

    def reset(self) -> None:
        """Forget the old thread (after the loop was restarted)."""
        self._started = self._clock()
        self._last = None
        self._thread = None

    def check(self) -> CheckResult:
        now = self._clock()
        limit = self.k * self.period
        if self._thread is not None and not self._thread.is_alive():
            return result(self.name, Health.FAILED, f"its thread {self._thread.name} is dead")
        if self._last is None:
            if now - self._started > limit:
                return result(self.name, Health.FAILED, f"no tick within {limit:g} s of start")
            return result(self.name, Health.OK, "starting")
        age = now - self._last
        if age > limit:
            return result(
                self.name, Health.FAILED, f"stuck: last tick {age:.1f} s ago (> {limit:g} s)"
            )
        return result(self.name, Health.OK, f"last tick {age:.2f} s ago")


class ProcessPressure:
    """This process's memory (resident, against the machine's) and CPU use, from /proc.

    Degraded above ``max_memory_fraction`` of physical memory or above
    ``max_cpu`` (1.0 = one core busy) averaged since the previous check.
    """

    def __init__(
        self,
        name: str = "process",
        *,
        max_memory_fraction: float = 0.8,
        max_cpu: float = 0.9 * (os.cpu_count() or 1),
        proc: Path = Path("/proc"),
        pid: int | None = None,
    ) -> None:
        self.name = name
        self.max_memory_fraction, self.max_cpu = max_memory_fraction, max_cpu
        self._proc = proc
        self._pid = pid or os.getpid()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._last: tuple[float, float] | None = None  # (wall, cpu seconds)

    def _rss_bytes(self) -> int:
        for line in (self._proc / str(self._pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _total_bytes(self) -> int:
        for line in (self._proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
        raise OSError("no MemTotal in /proc/meminfo")

    def _cpu_seconds(self) -> float:
        stat = (self._proc / str(self._pid) / "stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime

    def check(self) -> CheckResult:
        fraction = self._rss_bytes() / self._total_bytes()
        now, cpu = time.monotonic(), self._cpu_seconds()
        load = 0.0
        if self._last is not None and now > self._last[0]:
            load = (cpu - self._last[1]) / (now - self._last[0])
        self._last = (now, cpu)
        detail = f"memory {fraction:.1%} of physical, cpu {load:.2f} cores"
        if fraction > self.max_memory_fraction or load > self.max_cpu:
            return result(self.name, Health.DEGRADED, detail)
        return result(self.name, Health.OK, detail)
