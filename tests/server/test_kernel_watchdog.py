"""The kernel watchdog inside a real jupyter_server with Grace: real kernels, real faults.

A kernel of a notebook session is SIGKILLed mid-cell, then SIGSTOPped; each
time the watchdog (ticking every 0.25 s on the server's loop) must restart it
well before jupyter_client's restarter would have noticed (3 s, or never for
a stopped kernel), the kernel must answer again over the same websocket, the
health API must list it, and the ledger must hold signed ``health-kernel``
records of the fault and the restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.health._kernels import HEALTH_KERNEL, process_state
from tests.server.test_websocket import _execute, cell_records, open_kernel, text_of

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config(grace_home: Path) -> dict[str, Any]:
    assert not grace_home.exists()  # set before the server starts; the server creates it
    return {"ServerApp": {"jpserver_extensions": {"grace_kernel.server": True}}}


async def _restarted(serverapp: Any, kernel_id: str, old_pid: int, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        manager = serverapp.kernel_manager.get_kernel(kernel_id)
        pid = manager.provisioner.pid if manager.provisioner else None
        if pid and pid != old_pid and process_state(pid) not in ("gone", "Z", "T"):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"kernel {kernel_id} was not restarted within {limit} s")


async def test_killed_and_stopped_kernels_are_restarted_and_recorded(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, grace_home: Path
) -> None:
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        _, iopub = await kernel.execute("print('before')", "cell-1")
        assert text_of(iopub) == "before\n"
        [kernel_id] = jp_serverapp.kernel_manager.list_kernel_ids()
        await asyncio.sleep(0.6)  # the watchdog has picked the kernel up

        pid = jp_serverapp.kernel_manager.get_kernel(kernel_id).provisioner.pid
        busy = _execute(kernel.session, "busy", "import time; time.sleep(60)", "cell-busy")
        await kernel.ws.write_message(busy)
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)  # mid-cell
        assert await _restarted(jp_serverapp, kernel_id, pid, 3.0) <= 3.0
        # The frontend is told, as jupyter_client's restarter would tell it (JupyterLab
        # then reconnects); the cell that was running is recorded as lost.
        assert await _status(kernel, "restarting", 3.0)

        pid = jp_serverapp.kernel_manager.get_kernel(kernel_id).provisioner.pid
        await asyncio.sleep(0.6)
        os.kill(pid, signal.SIGSTOP)  # hung: jupyter_client's restarter never notices
        assert await _restarted(jp_serverapp, kernel_id, pid, 5.0) <= 5.0

        await asyncio.sleep(1.0)  # the websocket reconnects its channels to the new kernel
        _, iopub = await kernel.execute("print('after')", "cell-2")
        assert "after" in text_of(iopub)

        response = await jp_fetch("grace", "api", "health")
        health = json.loads(response.body)
        names = {c["name"] for c in health["components"]}
        assert f"kernel:{kernel_id}" in names
        # Healed within one supervisor tick, yet an incident: the watchdog reports it.
        [incident] = [i for i in health["incidents"] if i["root"] == f"kernel:{kernel_id}"]
        restarts = [a for a in incident["actions"] if a["action"] == "restart"]
        assert len(restarts) == 2
        assert all(a["seconds_since_fault"] <= 5.0 for a in restarts)

    events = [r["event"] for r in cell_records(grace_home, HEALTH_KERNEL)]
    assert events.count("restarted") == 2
    assert "dead" in events
    assert "hung" in events
    cells = {r["cell_id"]: r for r in cell_records(grace_home)}
    assert cells["cell-busy"]["status"] == "lost: the kernel was restarted while the cell ran"
    assert cells["cell-2"]["status"] == "ok"


async def _status(kernel: Any, state: str, limit: float) -> bool:
    """Read the websocket until a kernel status ``state`` arrives (False after ``limit`` s)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            raw = await asyncio.wait_for(kernel.ws.read_message(), deadline - time.monotonic())
        except TimeoutError:
            return False
        msg = json.loads(raw or "{}")
        if msg.get("msg_type") == "status" and msg["content"].get("execution_state") == state:
            return True
    return False
