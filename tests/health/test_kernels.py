"""The kernel watchdog against real faults in real kernels (jupyter_client, ipykernel).

Each test starts a kernel, injects a real fault (SIGKILL mid-cell, SIGSTOP, a
busy cell that must *not* count as hung), and asserts how fast the watchdog
saw it, that it restarted the kernel, and that the new kernel answers.  Every
kernel is shut down by the test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from grace_kernel.health._kernels import KernelEvent, KernelWatchdog, process_state
from grace_kernel.health._model import Health

TICK = 0.1

Watched = tuple[AsyncKernelManager, KernelWatchdog, list[KernelEvent]]


@asynccontextmanager
async def watched_kernel(
    *, hung_after: float = 5.0, probe_every: float = 1.0, max_restarts: int = 5
) -> AsyncIterator[Watched]:
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(stderr=subprocess.DEVNULL)
    manager.autorestart = False  # the watchdog alone heals here
    events: list[KernelEvent] = []
    dog = KernelWatchdog(
        on_event=events.append,
        hung_after=hung_after,
        probe_every=probe_every,
        max_restarts=max_restarts,
    )
    dog.watch("k1", manager)
    try:
        yield manager, dog, events
    finally:
        dog.close()
        await manager.shutdown_kernel(now=True)


async def run_until(dog: KernelWatchdog, done: Callable[[], bool], limit: float) -> float:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > limit:
            raise AssertionError(f"not done within {limit} s")
        await dog.tick()
        await asyncio.sleep(TICK)
    return time.monotonic() - started


async def answers(manager: AsyncKernelManager) -> bool:
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=30)
        reply = await client.execute_interactive("print(6 * 7)", timeout=30)
        return bool(reply["content"]["status"] == "ok")
    finally:
        client.stop_channels()


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def kinds(events: list[KernelEvent]) -> list[str]:
    return [e.kind for e in events]


def test_a_kernel_killed_mid_cell_is_seen_within_a_second_and_restarted() -> None:
    async def scenario() -> None:
        async with watched_kernel() as (manager, dog, events):
            await run_until(dog, lambda: dog.check("k1").detail == "alive and answering", 10)
            client = manager.client()
            client.start_channels()
            client.execute("import time; time.sleep(60)")  # mid-cell
            await asyncio.sleep(0.3)
            old = manager.provisioner.pid  # type: ignore[union-attr]
            os.kill(old, signal.SIGKILL)
            killed = time.monotonic()
            await run_until(dog, lambda: "restarted" in kinds(events), 15)
            client.stop_channels()
            dead = next(e for e in events if e.kind == "dead")
            restarted = next(e for e in events if e.kind == "restarted")
            assert dead.at - killed <= 1.0, dead
            assert restarted.at - killed <= 5.0, restarted
            assert manager.provisioner.pid != old  # type: ignore[union-attr]
            assert await answers(manager)
            assert dog.check("k1").health is Health.OK

    run(scenario)


def test_a_stopped_kernel_is_hung_not_alive_and_is_restarted() -> None:
    async def scenario() -> None:
        async with watched_kernel() as (manager, dog, events):
            await run_until(dog, lambda: dog.check("k1").detail == "alive and answering", 10)
            pid = manager.provisioner.pid  # type: ignore[union-attr]
            os.kill(pid, signal.SIGSTOP)
            stopped = time.monotonic()
            while process_state(pid) != "T":  # the signal is delivered asynchronously
                assert time.monotonic() - stopped < 2.0
                await asyncio.sleep(0.01)
            await run_until(dog, lambda: "restarted" in kinds(events), 15)
            hung = next(e for e in events if e.kind == "hung")
            assert "stopped" in hung.detail
            assert hung.at - stopped <= 1.0
            assert await answers(manager)

    run(scenario)


def test_a_kernel_stuck_in_c_holding_the_gil_is_hung() -> None:
    async def scenario() -> None:
        async with watched_kernel(hung_after=2.0, probe_every=0.5) as (manager, dog, events):
            await run_until(dog, lambda: dog.check("k1").detail == "alive and answering", 10)
            client = manager.client()
            client.start_channels()
            # Catastrophic backtracking: the regex engine never releases the GIL.
            client.execute("import re; re.match(r'(a+)+$', 'a' * 64 + 'b')")
            started = time.monotonic()
            await run_until(dog, lambda: "restarted" in kinds(events), 15)
            client.stop_channels()
            hung = next(e for e in events if e.kind == "hung")
            assert "no answer to kernel_info" in hung.detail
            assert hung.at - started <= 2.0 + 1.0
            assert await answers(manager)

    run(scenario)


def test_a_busy_cell_is_not_hung() -> None:
    async def scenario() -> None:
        async with watched_kernel(hung_after=2.0, probe_every=0.5) as (manager, dog, events):
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=30)
            client.execute("import time; time.sleep(4)")
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                await dog.tick()
                await asyncio.sleep(TICK)
            client.stop_channels()
            assert events == []  # the control thread answered throughout
            assert dog.check("k1").health is Health.OK

    run(scenario)


def test_a_kernel_that_keeps_dying_is_given_up_on() -> None:
    async def scenario() -> None:
        async with watched_kernel(max_restarts=2) as (manager, dog, events):

            def kill_current() -> bool:
                pid = manager.provisioner.pid if manager.provisioner else None  # type: ignore[attr-defined]
                if pid and process_state(pid) not in ("gone", "Z"):
                    os.kill(pid, signal.SIGKILL)
                return "gave-up" in kinds(events)

            await run_until(dog, kill_current, 60)
            assert kinds(events).count("restarted") == 2
            assert dog.check("k1").health is Health.FAILED
            assert "gave up" in dog.check("k1").detail

    run(scenario)
