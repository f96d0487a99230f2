"""A real workspace (SQLite file, keys, witness) and a supervisor over it with short windows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grace_kernel.config import Settings
from grace_kernel.health import Backoff, Health, Mode, StoreKeeper, Supervisor, workspace_supervisor
from grace_kernel.ledger import Entry
from grace_kernel.workspace import Workspace

STABLE = 0.2  # seconds of good health before the mode steps down


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    settings = Settings(home=tmp_path / "project" / ".grace", checkpoint_every=4)
    with Workspace.open(settings) as workspace:
        yield workspace


@pytest.fixture
def keeper(ws: Workspace) -> StoreKeeper:
    return StoreKeeper(ws, integrity_every=0.0, backup_every=0.0)


@pytest.fixture
def supervisor(ws: Workspace, keeper: StoreKeeper) -> Supervisor:
    return workspace_supervisor(
        ws,
        keeper=keeper,
        stable_period=STABLE,
        cascade_window=STABLE,
        backoff=lambda: Backoff(base=0.01, cap=0.05),
    )


def write_records(ws: Workspace, count: int) -> list[Entry]:
    path = ws.root / "data.txt"
    entries = []
    for i in range(count):
        path.write_text(f"result {i}\n")
        entries.append(ws.attest([path]))
    return entries


def tick_until(supervisor: Supervisor, done: Callable[[], bool], *, timeout: float = 10.0) -> float:
    """Tick until ``done()``; the seconds it took."""
    started = time.monotonic()
    while True:
        supervisor.tick()
        if done():
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, supervisor.status()
        time.sleep(0.02)


def health_of(supervisor: Supervisor, name: str) -> Health:
    component = next(c for c in supervisor.status()["components"] if c["name"] == name)
    return Health(component["health"])


def back_to_normal(supervisor: Supervisor) -> float:
    return tick_until(
        supervisor, lambda: supervisor.mode is Mode.NORMAL and supervisor.incident is None
    )
