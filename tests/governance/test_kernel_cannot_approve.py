"""Code running in a real Jupyter kernel cannot approve a request made on its user's behalf.

The request is for an action by ``Principal.kernel("k1", on_behalf_of=<you>)``.
Inside a real ipykernel (started with jupyter_client, GRACE_HOME pointing at a
throwaway workspace) the code tries the three ways it has: the Python API as a
kernel, the Python API as the user it runs for, and the ``grace`` CLI as a
subprocess.  All three are refused and the request stays pending; a different
person then approves it through the Python API.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from grace_kernel.config import Settings
from grace_kernel.governance import ActionKind, Principal, Severity
from grace_kernel.workspace import Workspace
from tests.governance.conftest import action

TIMEOUT = 60.0
ME = getpass.getuser()

IN_KERNEL = """
import getpass, json, os, subprocess, sys
from pathlib import Path
from grace_kernel.config import Settings
from grace_kernel.errors import GraceError
from grace_kernel.governance import Principal
from grace_kernel.workspace import Workspace

attempts = {}
settings = Settings.from_env(os.environ, cwd=Path.cwd())
with Workspace.open(settings, create=False) as ws:
    for label, approver in [
        ("as-kernel", Principal.kernel("k1", on_behalf_of=getpass.getuser())),
        ("as-user", Principal.user(getpass.getuser())),
    ]:
        try:
            request = ws.governance.approve(APPROVAL_ID, approver=approver)
        except GraceError as exc:
            attempts[label] = {"refused": type(exc).__name__, "message": exc.message}
        else:
            attempts[label] = {"state": request.state}
done = subprocess.run(
    [sys.executable, "-c", "from grace_kernel.cli import main; main()",
     "approvals", "approve", APPROVAL_ID, "--reason", "looks fine to me"],
    capture_output=True, text=True, timeout=60,
)
attempts["cli"] = {"code": done.returncode, "stderr": done.stderr}
print(json.dumps(attempts))
"""


def settings(home: Path) -> Settings:
    return Settings(home=home, checkpoint_interval=0.0)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialized workspace (the kernel starts in its project directory)."""
    path = tmp_path / "project" / ".grace"
    Workspace.open(settings(path)).close()
    return path


@pytest.fixture
def kernel(home: Path) -> Iterator[BlockingKernelClient]:
    """A real python3 kernel whose GRACE_HOME is the test workspace; always shut down."""
    manager = KernelManager(kernel_name="python3")
    env = {**os.environ, "GRACE_HOME": str(home)}
    manager.start_kernel(env=env, cwd=str(home.parent))
    client = manager.blocking_client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=TIMEOUT)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)  # also removes the connection file and ZMQ context


def execute(client: BlockingKernelClient, code: str) -> tuple[str, list[str]]:
    """Run ``code`` and wait until the kernel is idle; returns stdout and any error text."""
    stdout: list[str] = []
    errors: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        kind = message["header"]["msg_type"]
        content = message["content"]
        if kind == "stream" and content.get("name") == "stdout":
            stdout.append(content["text"])
        elif kind == "error":
            errors.append("\n".join(content.get("traceback", [])) or content.get("evalue", ""))

    reply = client.execute_interactive(code, timeout=TIMEOUT, output_hook=collect)
    if reply["content"]["status"] != "ok" and not errors:
        errors.append(str(reply["content"]))
    return "".join(stdout), errors


def test_kernel_cannot_approve_a_request_made_on_its_users_behalf(
    home: Path, kernel: BlockingKernelClient
) -> None:
    held = action(
        ActionKind.CELL_EXECUTE,
        "cell-7",
        principal=Principal.kernel("k1", on_behalf_of=ME),
        severity=Severity.HIGH,
    )
    with Workspace.open(settings(home), create=False) as ws:
        approval_id = ws.governance.govern(held).approval_id
    assert approval_id is not None

    out, errors = execute(kernel, f"APPROVAL_ID = {approval_id!r}\n{IN_KERNEL}")
    assert errors == []
    attempts = json.loads(out.strip().splitlines()[-1])

    assert attempts["as-kernel"]["refused"] == "PolicyError"
    assert "only a person can" in attempts["as-kernel"]["message"]
    assert attempts["as-user"]["refused"] == "PolicyError"
    assert "self-approval" in attempts["as-user"]["message"]
    assert attempts["cli"]["code"] == 3  # refused by policy
    assert "cannot approve" in attempts["cli"]["stderr"]
    assert "kernel:" in attempts["cli"]["stderr"]  # the CLI knew it ran under a kernel

    with Workspace.open(settings(home), create=False) as ws:
        request = ws.governance.approvals.get(approval_id)
        assert (request.state, request.decided_by) == ("pending", None)
        approved = ws.governance.approve(approval_id, approver=Principal.user("bob"), note="ok")
        assert (approved.state, approved.decided_by) == ("approved", "user:bob")
        assert ws.governance.govern(held).allowed
        assert ws.governance.approvals.get(approval_id).state == "used"
        assert ws.verify().ok
