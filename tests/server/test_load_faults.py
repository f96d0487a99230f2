"""Four kernels run cells while real faults hit them and the store: no acknowledged cell
goes unrecorded, and the ledger verifies afterwards.

Faults, while every kernel is busy: one kernel SIGKILLed mid-cell, the
database locked by another process (3 s), a second kernel SIGSTOPped (hung).
A cell is *acknowledged* when its client got the execute_reply and the idle
status: the server records (or spools) a cell before it forwards its idle, so
each acknowledged cell must have its signed record.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.health._kernels import HEALTH_KERNEL
from grace_kernel.workspace import Workspace
from tests.server.test_websocket import Kernel, _execute, cell_records, open_kernel

pytest_plugins = ["pytest_jupyter.jupyter_server"]

KERNELS = 4
CELLS = 20
ACK_LIMIT = 20.0  # a cell not answered by then is unacknowledged (its kernel was being healed)


@pytest.fixture
def jp_server_config(grace_home: Path) -> dict[str, Any]:
    assert not grace_home.exists()
    return {"ServerApp": {"jpserver_extensions": {"grace_kernel.server": True}}}


async def _work(kernel: Kernel, name: str, acked: dict[str, str]) -> None:
    """Run CELLS cells one after another; note those acknowledged, and their status."""
    for i in range(CELLS):
        cell_id = f"{name}-cell-{i}"
        msg_id = uuid.uuid4().hex
        code = f"import time\ntime.sleep(0.25)\nprint({i})"
        await kernel.ws.write_message(_execute(kernel.session, msg_id, code, cell_id))
        try:
            reply, _ = await asyncio.wait_for(kernel.reply(msg_id), ACK_LIMIT)
        except TimeoutError:
            continue
        acked[cell_id] = reply["content"]["status"]


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen[bytes]:
    """Another process takes the database's write lock and keeps it."""
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "c.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"locked"
    return holder


@pytest.mark.slow
async def test_four_kernels_under_faults_lose_no_acknowledged_record(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, grace_home: Path
) -> None:
    acked: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        kernels = [
            await stack.enter_async_context(
                open_kernel(jp_fetch, jp_ws_fetch, path=f"load-{n}.ipynb")
            )
            for n in range(KERNELS)
        ]
        ids = jp_serverapp.kernel_manager.list_kernel_ids()
        assert len(ids) == KERNELS
        await asyncio.sleep(0.6)  # the watchdog has picked every kernel up
        manager = jp_serverapp.kernel_manager
        pids = {kid: manager.get_kernel(kid).provisioner.pid for kid in ids}
        work = [asyncio.ensure_future(_work(k, f"k{n}", acked)) for n, k in enumerate(kernels)]

        await asyncio.sleep(1.0)
        os.kill(pids[ids[0]], signal.SIGKILL)  # mid-cell
        await asyncio.sleep(1.5)
        holder = await asyncio.to_thread(_hold_lock, grace_home / "grace.db", 3.0)
        await asyncio.sleep(1.0)
        os.kill(pids[ids[1]], signal.SIGSTOP)  # hung: restarted after ~5 s
        await asyncio.gather(*work)
        assert await asyncio.to_thread(holder.wait) == 0
        if holder.stdout is not None:
            holder.stdout.close()

        service = jp_serverapp.web_app.settings["grace_service"]
        deadline = time.monotonic() + 15
        while service.spool.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # anything spooled is appended at the next healthy tick
        assert service.spool.pending == 0

    assert len(acked) >= KERNELS * CELLS * 0.7, f"only {len(acked)} cells were acknowledged"
    records = {r["cell_id"]: r for r in cell_records(grace_home)}
    missing = sorted(set(acked) - set(records))
    assert missing == [], f"acknowledged but not recorded: {missing}"
    for cell_id, status in acked.items():
        recorded = records[cell_id]["status"]
        assert recorded == status or recorded.startswith("lost"), (cell_id, status, recorded)
    assert any(r["status"].startswith("lost") for r in records.values())  # the killed cell
    events = [r["event"] for r in cell_records(grace_home, HEALTH_KERNEL)]
    assert {"dead", "hung"} <= set(events)
    assert events.count("restarted") >= 2
    with Workspace.open(Settings(home=grace_home), create=False) as ws:
        report = ws.verify()
    assert report.ok, report.problem
    with sqlite3.connect(grace_home / "grace.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
