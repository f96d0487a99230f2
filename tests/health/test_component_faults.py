"""Real faults outside the store: a background loop's thread dies, a scanner rule crashes."""

from __future__ import annotations

import ast
import threading
import time

from grace_kernel.health import (
    HEALTH_INCIDENT,
    Backoff,
    Health,
    LoopMonitor,
    Mode,
    StoreKeeper,
    workspace_supervisor,
)
from grace_kernel.hunter import Scanner, default_registry
from grace_kernel.hunter._pyscan import PyContext
from grace_kernel.hunter._registry import Hit
from grace_kernel.workspace import Workspace

from .conftest import STABLE, back_to_normal, health_of, tick_until
from .test_store_faults import records


class Loop:
    """A real background loop on its own thread, ticking its monitor every ``period``."""

    def __init__(self, monitor: LoopMonitor) -> None:
        self.monitor = monitor
        self.crash = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.crash.clear()
        self.monitor.reset()
        self.thread = threading.Thread(target=self._run, name="grace-test-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.crash.is_set():
            self.monitor.tick()
            time.sleep(self.monitor.period)
        # the loop's body raised: the thread ends, nobody ticks any more


def test_a_dead_loop_thread_is_detected_restarted_and_recorded(
    ws: Workspace, keeper: StoreKeeper
) -> None:
    loop = Loop(LoopMonitor("hold-checker", period=0.05))
    loop.start()
    supervisor = workspace_supervisor(
        ws,
        keeper=keeper,
        loops=[(loop.monitor, loop.start)],
        stable_period=STABLE,
        cascade_window=STABLE,
        backoff=lambda: Backoff(base=0.01, cap=0.05),
    )
    tick_until(supervisor, lambda: loop.monitor.ticks > 0)
    assert supervisor.mode.value == "normal"
    old = loop.thread
    loop.crash.set()
    assert old is not None
    old.join(1)
    started = time.monotonic()
    actions = supervisor.tick()
    assert time.monotonic() - started < 1.0
    assert [(a["component"], a["action"], a["detail"]) for a in actions] == [
        ("hold-checker", "restart", "ok")
    ]
    assert loop.thread is not old
    assert loop.thread is not None
    assert loop.thread.is_alive()
    assert supervisor.mode is Mode.DEGRADED  # a non-critical component was down
    back_to_normal(supervisor)
    opened, closed = records(ws, HEALTH_INCIDENT)
    assert opened["root"] == closed["root"] == "hold-checker"
    assert "dead" in opened["cause"]
    loop.crash.set()


def test_a_stuck_loop_is_detected_after_k_periods() -> None:
    monitor = LoopMonitor("stuck", period=0.05, k=2)
    monitor.tick()
    assert monitor.check().health is Health.OK
    time.sleep(0.15)  # the thread is alive, but the loop stopped ticking
    found = monitor.check()
    assert found.health is Health.FAILED
    assert "stuck" in found.detail


def test_a_scanner_that_raises_is_failed_and_rebuilt(ws: Workspace, keeper: StoreKeeper) -> None:
    def crashing_rule(node: ast.AST, context: PyContext) -> list[Hit]:
        raise RecursionError(f"a buggy plugin rule on {type(node).__name__} in {context}")

    registry = default_registry()
    registry.add_check("GRC-PY-048", (ast.Call,), crashing_rule)  # a plugin's broken check
    current = [Scanner(registry)]

    def rebuild() -> None:
        current[0] = Scanner()

    supervisor = workspace_supervisor(
        ws,
        keeper=keeper,
        scanner=lambda: current[0],
        restart_scanner=rebuild,
        stable_period=STABLE,
        cascade_window=STABLE,
    )
    actions = supervisor.tick()
    assert [(a["component"], a["action"]) for a in actions] == [("scanner", "restart")]
    assert supervisor.mode is Mode.DEGRADED
    assert health_of(supervisor, "scanner") is Health.OK  # re-checked after the rebuild
    opened = records(ws, HEALTH_INCIDENT)[0]
    assert opened["root"] == "scanner"
    assert "RecursionError" in opened["cause"]
    back_to_normal(supervisor)
    assert ws.verify().ok
