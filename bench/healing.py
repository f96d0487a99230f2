"""Kernel fault detection and recovery: Grace's watchdog against jupyter_client's restarter.

    python bench/healing.py [--trials N] [--hung-cap S] [--json]

Two faults, each injected into a fresh ``python3`` kernel per trial, once
with Grace's :class:`~grace_kernel.health._kernels.KernelWatchdog` healing
(ticking every 0.1 s, jupyter_client's auto-restart off) and once with
jupyter_client's default ``AsyncIOLoopKernelRestarter`` (the anchor:
``time_to_dead`` 3 s, what jupyter_server uses):

- **dead**: ``SIGKILL`` the kernel process.  Detection: the watchdog's
  ``dead`` event / the restarter's ``restart`` callback.  Recovery: a new
  kernel process answers ``kernel_info``.
- **stopped**: ``SIGSTOP`` the kernel process.  Detection as above
  (``hung``); the restarter never notices a stopped process, so its trials
  end at ``--hung-cap`` seconds and count as not detected.
- **gil**: a cell stuck in C holding the GIL (catastrophic regex
  backtracking), so not even ipykernel's control thread answers; the
  watchdog's ``kernel_info`` probe (hung after 5 s) is what sees it.

Store faults, on a real workspace whose supervisor ticks every second (as
the server's does), the fault injected at a random moment of the tick:

- **unwritable**: the database file loses its write permission;
- **locked**: another process holds an exclusive lock on it;
- **garbage**: its bytes are overwritten in place.

Measured: from the fault to governance deciding in a non-normal mode (safe,
or lockdown for garbage).  No anchor exists (nothing else watches the
store); the target is the issue's.  The tick's own cost is printed too.

Targets (issue 8): dead detected <= 1 s and recovered <= 3 s at p95; hung
(stopped or stuck) detected <= 10 s; store failure to safe mode <= 2 s.
Medians and p95 over ``--trials`` (>= 20) each.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_client.ioloop.manager import AsyncIOLoopKernelManager

from grace_kernel.config import Settings
from grace_kernel.health import StoreKeeper, workspace_supervisor
from grace_kernel.health._kernels import KernelEvent, KernelWatchdog, process_state
from grace_kernel.workspace import Workspace

TICK = 0.1


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _answers(manager: AsyncIOLoopKernelManager, old_pid: int) -> bool:
    pid = manager.provisioner.pid if manager.provisioner else None  # type: ignore[attr-defined]
    if pid is None or pid == old_pid or process_state(pid) in ("gone", "Z", "T"):
        return False
    client = manager.client()
    client.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
    try:
        msg = client.session.msg("kernel_info_request")
        client.control_channel.send(msg)
        reply = await client.control_channel.get_msg(timeout=0.2)
        return bool(reply["parent_header"].get("msg_id") == msg["header"]["msg_id"])
    except Exception:  # not up yet: no answer in time
        return False
    finally:
        client.stop_channels()


async def _trial(fault: str, arm: str, cap: float) -> tuple[float | None, float | None]:
    """(seconds to detection, seconds to recovery); None when it did not happen within cap."""
    manager = AsyncIOLoopKernelManager(kernel_name="python3")
    await manager.start_kernel(stderr=subprocess.DEVNULL)
    detected: list[float] = []
    dog = None
    if arm == "grace":
        manager.stop_restarter()  # started by start_kernel; a no-op once autorestart is off
        manager.autorestart = False

        def seen(event: KernelEvent) -> None:
            if event.kind in ("dead", "hung") and not detected:
                detected.append(time.monotonic())

        dog = KernelWatchdog(on_event=seen, hung_after=5.0, probe_every=1.0)
        dog.watch("k", manager)
    else:
        manager.autorestart = True
        manager.add_restart_callback(lambda: detected.append(time.monotonic()), "restart")
        manager.start_restarter()
    old = manager.provisioner.pid  # type: ignore[union-attr]
    try:
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=30)
        client.stop_channels()
        if dog is not None:
            for _ in range(3):  # let the watchdog see it healthy first
                await dog.tick()
                await asyncio.sleep(TICK)
        if fault == "gil":
            client = manager.client()  # a fresh one: channels start only once per client
            client.start_channels()
            client.execute("import re; re.match(r'(a+)+$', 'a' * 64 + 'b')")
        else:
            os.kill(old, signal.SIGKILL if fault == "dead" else signal.SIGSTOP)
        injected = time.monotonic()
        recovered = None
        while time.monotonic() - injected < cap:
            if dog is not None:
                await dog.tick()
            if detected and await _answers(manager, old):
                recovered = time.monotonic() - injected
                break
            await asyncio.sleep(TICK / 2)
        detection = detected[0] - injected if detected else None
        client.stop_channels()
        return detection, recovered
    finally:
        manager.stop_restarter()  # before the stopped kernel is killed below
        if dog is not None:
            dog.close()
        if process_state(old) not in ("gone", "Z"):
            os.kill(old, signal.SIGKILL)  # the anchor never noticed: end the trial
        ready = manager.ready
        if isinstance(ready, concurrent.futures.Future):
            ready = asyncio.wrap_future(ready)
        with contextlib.suppress(Exception):  # a restart the anchor began may still run
            await asyncio.wait_for(asyncio.shield(ready), 15)
        with contextlib.suppress(asyncio.InvalidStateError):
            await manager.shutdown_kernel(now=True)


STORE_TICK = 1.0  # grace_kernel.server._extension.HEALTH_TICK_MS


def _store_trial(fault: str, root: Path) -> tuple[float, float]:
    """One store fault under a supervisor ticking every STORE_TICK s; (to safe, tick cost)."""
    settings = Settings(home=root / ".grace", checkpoint_every=4)
    with Workspace.open(settings) as ws:
        keeper = StoreKeeper(ws, integrity_every=0.0, backup_every=0.0)
        supervisor = workspace_supervisor(ws, keeper=keeper, stable_period=0.2)
        try:
            for i in range(6):
                (root / "data.txt").write_text(f"result {i}\n")
                ws.attest([root / "data.txt"])
            started = time.perf_counter()
            supervisor.tick()  # takes the verified backup
            tick_cost = time.perf_counter() - started
            stop = threading.Event()

            def ticking() -> None:
                while not stop.wait(STORE_TICK):
                    supervisor.tick()

            ticker = threading.Thread(target=ticking)
            ticker.start()
            try:
                time.sleep(random.uniform(0.0, STORE_TICK))  # any moment of the tick
                with _store_fault(fault, settings.db_path):
                    faulted = time.monotonic()
                    while ws.health_mode() == "normal":
                        time.sleep(0.005)
                    to_safe = time.monotonic() - faulted
            finally:
                stop.set()
                ticker.join()
        finally:
            keeper.close()
    return to_safe, tick_cost


@contextlib.contextmanager
def _store_fault(fault: str, db: Path) -> Iterator[None]:
    if fault == "unwritable":
        db.chmod(0o444)
        try:
            yield
        finally:
            db.chmod(0o644)
    elif fault == "locked":
        locker = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdin is not None
        assert locker.stdout is not None
        try:
            locker.stdout.readline()
            yield
        finally:
            locker.stdin.close()
            locker.wait()
            locker.stdout.close()
    else:
        db.write_bytes(os.urandom(db.stat().st_size))
        yield


_LOCKER = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def store_results(trials: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for fault in ("unwritable", "locked", "garbage"):
        to_safe: list[float | None] = []
        costs: list[float] = []
        for _ in range(trials):
            with tempfile.TemporaryDirectory(prefix="grace-bench-store-") as tmp:
                seconds, cost = _store_trial(fault, Path(tmp))
            to_safe.append(seconds)
            costs.append(cost)
        results[f"store {fault}"] = {
            "to_safe": _summary(to_safe),
            "tick_ms": round(statistics.median(costs) * 1000, 1),
        }
    return results


def _summary(samples: list[float | None]) -> dict[str, Any]:
    seen = [s for s in samples if s is not None]
    return {
        "n": len(samples),
        "missed": len(samples) - len(seen),
        "median_s": round(statistics.median(seen), 3) if seen else None,
        "p95_s": round(_p95(seen), 3) if seen else None,
    }


async def main_async(trials: int, hung_cap: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for fault, cap in (("dead", 30.0), ("stopped", hung_cap), ("gil", hung_cap)):
        for arm in ("grace", "jupyter_client"):
            detect: list[float | None] = []
            recover: list[float | None] = []
            for _ in range(trials):
                d, r = await _trial(fault, arm, cap)
                detect.append(d)
                recover.append(r)
            results[f"{fault}/{arm}"] = {
                "detect": _summary(detect),
                "recover": _summary(recover),
            }
    return results


def _cell(stats: dict[str, Any]) -> str:
    if stats["median_s"] is None:
        return f"never ({stats['missed']}/{stats['n']} missed)"
    missed = f", {stats['missed']} missed" if stats["missed"] else ""
    return f"{stats['median_s']:.2f} / {stats['p95_s']:.2f} s{missed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--hung-cap", type=float, default=12.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error("--trials must be positive")
    results = asyncio.run(main_async(args.trials, args.hung_cap))
    stores = store_results(args.trials)
    if args.json:
        print(json.dumps({**results, **stores}, indent=2))
        return
    print(f"kernel faults, {args.trials} trials each (median / p95)")
    print(f"{'fault / healer':<28} {'detected':<28} recovered")
    for name, row in results.items():
        print(f"{name:<28} {_cell(row['detect']):<28} {_cell(row['recover'])}")
    print(f"\nstore faults, supervisor ticking every {STORE_TICK:g} s (median / p95)")
    print(f"{'fault':<28} {'to safe mode':<28} tick cost")
    for name, row in stores.items():
        print(f"{name:<28} {_cell(row['to_safe']):<28} {row['tick_ms']:.1f} ms")


if __name__ == "__main__":
    main()
