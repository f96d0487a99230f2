"""Burst triggers and the supervisor's two entry points between ticks (pure core, fake clock)."""

from __future__ import annotations

import pytest

from grace_kernel.governance import Severity
from grace_kernel.health import (
    BurstDetector,
    CheckResult,
    Component,
    Health,
    Mode,
    Registry,
    Signal,
    Supervisor,
)


def signal(at: float, source: str = "kernel:a", severity: Severity = Severity.HIGH) -> Signal:
    return Signal(source, "findings", severity, f"cell at {at}", at)


def test_a_burst_is_threshold_signals_from_one_source_within_the_window() -> None:
    detector = BurstDetector(threshold=3, window=10.0)
    assert detector.observe(signal(0.0)) is None
    assert detector.observe(signal(1.0, source="kernel:b")) is None  # counted apart
    assert detector.observe(signal(2.0)) is None
    burst = detector.observe(signal(9.5))
    assert burst is not None
    assert (burst.source, len(burst.signals)) == ("kernel:a", 3)
    assert burst.summary.startswith("3 high-severity signals from kernel:a in 9.5 s (3 findings")
    assert burst.to_json()["signals"][0] == {
        "kind": "findings",
        "severity": "high",
        "detail": "cell at 0.0",
    }


def test_old_signals_slide_out_and_low_severity_ones_never_count() -> None:
    detector = BurstDetector(threshold=3, window=10.0)
    for at in (0.0, 5.0):
        assert detector.observe(signal(at)) is None
    assert detector.observe(signal(6.0, severity=Severity.MEDIUM)) is None
    assert detector.observe(signal(10.5)) is None  # 0.0 slid out: only 5.0 and 10.5 are in
    assert detector.observe(signal(11.0)) is not None


def test_after_a_burst_the_count_starts_again_and_forget_drops_a_source() -> None:
    detector = BurstDetector(threshold=2, window=60.0)
    detector.observe(signal(0.0))
    assert detector.observe(signal(1.0)) is not None
    assert detector.observe(signal(2.0)) is None  # a new burst needs two new signals
    detector.forget("kernel:a")
    assert detector.observe(signal(3.0)) is None
    with pytest.raises(ValueError, match="at least one"):
        BurstDetector(threshold=0)
    with pytest.raises(ValueError, match="positive"):
        BurstDetector(window=0)


def _supervisor() -> tuple[Supervisor, list[float]]:
    now = [100.0]
    registry = Registry(
        [
            Component("store", lambda: CheckResult(component="store", health=Health.OK)),
            Component("kernel:a", lambda: CheckResult(component="kernel:a", health=Health.OK)),
        ]
    )
    clock = lambda: now[0]  # noqa: E731
    return Supervisor(None, registry, clock=clock, wall=clock, stable_period=5.0), now


def test_a_failure_healed_between_ticks_still_makes_an_incident_with_its_action() -> None:
    supervisor, now = _supervisor()
    supervisor.tick()
    supervisor.observe(CheckResult(component="kernel:a", health=Health.FAILED, detail="dead"))
    restart = {"component": "kernel:a", "action": "restart", "detail": "dead"}
    supervisor.observe(CheckResult(component="kernel:a", health=Health.OK), actions=[restart])
    [incident] = supervisor.recent_incidents()
    assert (incident.root, incident.cause, incident.open) == ("kernel:a", "dead", True)
    assert [a["action"] for a in incident.actions] == ["restart"]
    now[0] += 11.0  # past the cascade window, with every check healthy: closed
    supervisor.tick()
    assert not supervisor.recent_incidents()[0].open


def test_containment_raises_the_floor_at_once_and_ticks_do_not_lower_it() -> None:
    supervisor, now = _supervisor()
    supervisor.tick()
    supervisor.contain(Mode.SAFE, "Hunter burst: 5 high-severity signals")
    assert (supervisor.mode, supervisor.manual) == (Mode.SAFE, Mode.SAFE)
    assert supervisor.cause == "Hunter burst: 5 high-severity signals"
    now[0] += 60.0
    supervisor.tick()
    assert supervisor.mode is Mode.SAFE  # every component is fine, the floor holds
    assert supervisor.status()["cause"] == "Hunter burst: 5 high-severity signals"
    supervisor.contain(Mode.DEGRADED, "a milder trigger")  # never lowers it
    assert supervisor.manual is Mode.SAFE
