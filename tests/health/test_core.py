"""The supervisor's pure core: fake components, a fake clock, no workspace."""

from __future__ import annotations

from typing import Any

import pytest

from grace_kernel.errors import InputError
from grace_kernel.health import (
    Backoff,
    CheckResult,
    Component,
    Health,
    Intensity,
    Mode,
    Registry,
    Strategy,
    Supervisor,
    roots,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fake:
    """A component whose health the test sets; restarting it heals it unless ``stuck``."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.health = Health.OK
        self.stuck = False
        self.untrusted = False

    def check(self) -> CheckResult:
        return CheckResult(component=self.name, health=self.health, untrusted=self.untrusted)

    def restart(self) -> None:
        self.log.append(self.name)
        if not self.stuck:
            self.health = Health.OK


def build(
    specs: list[tuple[str, tuple[str, ...], bool, Strategy]], clock: Clock, **options: Any
) -> tuple[Supervisor, dict[str, Fake], list[str]]:
    log: list[str] = []
    fakes = {name: Fake(name, log) for name, *_ in specs}
    registry = Registry(
        Component(name, fakes[name].check, deps, fakes[name].restart, critical, strategy)
        for name, deps, critical, strategy in specs
    )
    options.setdefault("backoff", lambda: Backoff(base=1.0, cap=8.0, jitter=0.0))
    supervisor = Supervisor(None, registry, clock=clock, wall=clock, **options)
    return supervisor, fakes, log


ONE = Strategy.ONE_FOR_ONE
SPECS = [
    ("store", (), True, ONE),
    ("loop-a", ("store",), False, ONE),
    ("loop-b", ("loop-a",), False, ONE),
    ("scanner", (), False, ONE),
]


def mode_of(supervisor: Supervisor) -> Mode:
    return supervisor.mode  # a call, so the type checker does not narrow between ticks


def test_registry_orders_dependencies_and_refuses_unknowns_and_cycles() -> None:
    def ok() -> CheckResult:
        return CheckResult(component="x", health=Health.OK)

    registry = Registry([Component("a", ok), Component("c", ok), Component("b", ok, ("a",))])
    registry.add(Component("d", ok, ("b", "c")))
    assert registry.order() == ["a", "c", "b", "d"]
    assert registry.dependents("a") == ["b", "d"]
    assert registry.dependencies("d") == {"a", "b", "c"}
    with pytest.raises(InputError, match="unknown 'zz'"):
        registry.add(Component("e", ok, ("zz",)))
    assert "e" not in registry
    with pytest.raises(InputError, match="cycle: p -> p"):
        Registry([Component("p", ok, ("p",))])
    with pytest.raises(InputError, match="dependency of b"):
        registry.remove("a")


def test_cascade_root_is_the_failure_no_other_failure_explains() -> None:
    clock = Clock()
    supervisor, fakes, log = build(SPECS, clock)
    assert roots(["loop-b", "store", "loop-a"], supervisor.registry) == ["store"]
    assert roots(["loop-b", "scanner"], supervisor.registry) == ["loop-b", "scanner"]
    for name in ("store", "loop-a", "loop-b"):
        fakes[name].health = Health.FAILED
    fakes["store"].stuck = True
    supervisor.tick()
    # one incident for the cascade, rooted at the store; only the root was restarted
    [incident] = supervisor.status()["incidents"]
    assert incident["root"] == "store"
    assert incident["members"] == ["store", "loop-a", "loop-b"]
    assert log == ["store"]
    assert mode_of(supervisor) is Mode.SAFE
    fakes["store"].stuck = False
    clock.now += 1.5  # past the first backoff
    supervisor.tick()
    assert log == ["store", "store", "loop-a", "loop-b"]  # root first, then its dependents


def test_rest_for_one_restarts_the_dependents_in_order() -> None:
    clock = Clock()
    specs = [("store", (), True, Strategy.REST_FOR_ONE), *SPECS[1:]]
    supervisor, fakes, log = build(specs, clock)
    fakes["store"].health = Health.FAILED
    supervisor.tick()
    assert log == ["store", "loop-a", "loop-b"]


def test_backoff_spaces_restarts_and_intensity_gives_up_and_escalates() -> None:
    clock = Clock()
    supervisor, fakes, log = build(
        SPECS, clock, intensity=lambda: Intensity(max_restarts=3, period=60.0)
    )
    fakes["scanner"].health = Health.FAILED
    fakes["scanner"].stuck = True
    supervisor.tick()
    assert log == ["scanner"]
    assert mode_of(supervisor) is Mode.DEGRADED
    supervisor.tick()  # within the backoff (1 s): no restart
    assert log == ["scanner"]
    for delay in (1.0, 2.0):
        clock.now += delay + 0.01
        supervisor.tick()
    assert log == ["scanner"] * 3
    clock.now += 4.01
    actions = supervisor.tick()
    assert [a["action"] for a in actions] == ["give-up"]
    assert mode_of(supervisor) is Mode.SAFE  # escalated: a non-critical one, given up
    clock.now += 100
    supervisor.tick()
    assert log == ["scanner"] * 3  # no more restarts once given up
    fakes["scanner"].stuck = False
    fakes["scanner"].health = Health.OK
    supervisor.tick()
    clock.now += 10
    supervisor.tick()
    assert mode_of(supervisor) is Mode.NORMAL


@pytest.mark.parametrize("seed", [0.0, 0.5, 0.999])
def test_backoff_jitter_stays_within_bounds(seed: float) -> None:
    backoff = Backoff(base=0.5, factor=2.0, cap=4.0, jitter=0.2, rng=lambda: seed)
    for raw in (0.5, 1.0, 2.0, 4.0, 4.0):
        delay = backoff.next()
        assert raw * 0.8 <= delay <= raw * 1.2


def test_modes_go_up_at_once_and_down_after_a_stable_period() -> None:
    clock = Clock()
    supervisor, fakes, _ = build(SPECS, clock, stable_period=5.0, cascade_window=2.0)
    fakes["scanner"].health = Health.DEGRADED
    supervisor.tick()
    assert mode_of(supervisor) is Mode.DEGRADED
    fakes["store"].health = Health.FAILED
    fakes["store"].untrusted = True
    fakes["store"].stuck = True
    supervisor.tick()
    assert mode_of(supervisor) is Mode.LOCKDOWN
    fakes["store"].untrusted = False
    fakes["store"].stuck = False
    fakes["scanner"].health = Health.OK
    clock.now += 1.5
    supervisor.tick()  # the store's restart healed it: better, but not yet stable
    assert mode_of(supervisor) is Mode.LOCKDOWN
    clock.now += 5.0
    supervisor.tick()
    assert mode_of(supervisor) is Mode.NORMAL
    moves = [(r["from"], r["to"]) for r in _queued(supervisor, "health-transition")]
    assert moves == [("normal", "degraded"), ("degraded", "lockdown"), ("lockdown", "normal")]
    [incident] = supervisor.status()["incidents"]
    assert incident["healed_at"] is not None
    assert (incident["mode_before"], incident["mode_after"]) == ("degraded", "lockdown")
    events = [r["event"] for r in _queued(supervisor, "health-incident")]
    assert events == ["opened", "closed"]


def test_a_failure_within_the_window_joins_the_open_incident() -> None:
    clock = Clock()
    supervisor, fakes, _ = build(SPECS, clock, cascade_window=10.0)
    fakes["loop-b"].health = Health.FAILED
    supervisor.tick()  # restarted and healed at once
    clock.now += 3
    fakes["store"].health = Health.FAILED
    fakes["store"].stuck = True
    supervisor.tick()
    [incident] = supervisor.status()["incidents"]
    assert incident["root"] == "store"
    assert set(incident["members"]) == {"store", "loop-b"}


def test_heal_dry_run_plans_without_restarting() -> None:
    clock = Clock()
    supervisor, fakes, log = build(SPECS, clock)
    fakes["loop-a"].health = Health.FAILED
    planned = supervisor.heal(dry_run=True)
    assert [(a["component"], a["action"]) for a in planned["actions"]] == [
        ("loop-a", "would-restart")
    ]
    assert log == []
    assert mode_of(supervisor) is Mode.NORMAL
    done = supervisor.heal("loop-a")
    assert [(a["component"], a["action"], a["detail"]) for a in done["actions"]] == [
        ("loop-a", "restart", "ok")
    ]
    assert done["mode"] == "normal"  # a manual heal settles at once


def test_a_check_that_raises_or_hangs_is_failed_not_fatal() -> None:
    import threading

    release = threading.Event()

    def raises() -> CheckResult:
        raise RuntimeError("boom")

    def hangs() -> CheckResult:
        release.wait(5)
        return CheckResult(component="hangs", health=Health.OK)

    registry = Registry([Component("raises", raises), Component("hangs", hangs)])
    supervisor = Supervisor(None, registry, check_timeout=0.1)
    supervisor.tick()
    release.set()
    status = {c["name"]: c for c in supervisor.status()["components"]}
    assert status["raises"]["health"] == "failed"
    assert "RuntimeError: boom" in status["raises"]["detail"]
    assert status["hangs"]["health"] == "failed"
    assert "within 0.1 s" in status["hangs"]["detail"]


def _queued(supervisor: Supervisor, operation: str) -> list[dict[str, Any]]:
    return [p for t, _, p in supervisor._pending if t.endswith(f":{operation}:v1")]
