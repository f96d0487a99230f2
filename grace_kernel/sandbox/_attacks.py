"""The attack matrix: real attacks run in the sandbox, and which layer stopped each.

``grace doctor --attacks`` and the test suite run these against the layers
this machine offers.  Each attack is a small Python program that tries one
thing a hostile cell would try and prints, as its last line, what happened
(``{"step": ..., "errno": ...}`` or ``{"outcome": "succeeded"}``).  The
classifier reads that line and the run's own verdict (signals, limits,
cgroup counters) and names the layer that stopped the attack.

``stoppers`` lists, in the order the attack meets them on its way through
the kernel, the layers that can stop it: the expected stopper at a given set
of layers is the first active one (e.g. a TCP connect meets seccomp at
``socket()``, Landlock at ``connect()``, and only then the empty network
namespace bubblewrap made).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from grace_kernel.sandbox._langs import language
from grace_kernel.sandbox._probe import IsolationReport
from grace_kernel.sandbox._run import Limits, MiB, SandboxResult, SandboxSpec, run

__all__ = ["ATTACKS", "Attack", "AttackOutcome", "run_attacks"]

_REPORT = """
import errno, json, os, sys
def report(step, exc=None, **extra):
    code = getattr(exc, "errno", None)
    name = errno.errorcode.get(code, type(exc).__name__) if exc is not None else None
    print(json.dumps({"step": step, "errno": name, **extra}), flush=True)
    os._exit(0)
def succeeded(**extra):
    print(json.dumps({"outcome": "succeeded", **extra}), flush=True)
    os._exit(0)
"""

_TCP = """
import socket
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
except OSError as e:
    report("socket", e)
s.settimeout(3)
try:
    s.connect(("127.0.0.1", {port}))
except socket.timeout as e:
    report("connect", OSError(errno.ETIMEDOUT, "timed out"))
except OSError as e:
    report("connect", e)
succeeded()
"""

_WRITE = """
try:
    with open({target!r}, "w") as f:
        f.write("written from the sandbox")
except OSError as e:
    report("open", e)
succeeded()
"""

_READ = """
try:
    with open({target!r}) as f:
        data = f.read()
except OSError as e:
    report("open", e)
succeeded(read=len(data))
"""

_ALLOC = """
try:
    block = b"\\x01" * (2 << 30)
except MemoryError as e:
    report("alloc", OSError(errno.ENOMEM, "MemoryError"))
succeeded(size=len(block))
"""

_FORK_BOMB = """
import time
children = []
for i in range(64):
    try:
        pid = os.fork()
    except OSError as e:
        report("fork", e, forked=len(children))
    if pid == 0:
        time.sleep(2)
        os._exit(0)
    children.append(pid)
succeeded(forked=len(children))
"""

_CPU = """
while True:
    pass
"""

_FDS = """
held = []
try:
    for i in range(100_000):
        held.append(open("/dev/null", "rb"))
except OSError as e:
    report("open", e, held=len(held))
succeeded(held=len(held))
"""

_BIG_FILE = """
chunk = b"\\0" * (1 << 20)
try:
    with open("big.bin", "wb") as f:
        for i in range(8):
            f.write(chunk)
            f.flush()
except OSError as e:
    report("write", e)
succeeded()
"""

_EXEC_SH = """
try:
    os.execv("/bin/sh", ["sh", "-c", "echo PWNED"])
except OSError as e:
    report("exec", e)
"""

_CTYPES_SYSTEM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.system(b"echo PWNED")
if rc == -1:
    report("fork", OSError(ctypes.get_errno(), "system"))
if rc == 127 << 8:
    report("exec", OSError(errno.EACCES, "the shell could not be executed"))
succeeded(rc=rc)
"""

_FORK_EXEC = """
import _posixsubprocess
r, w = os.pipe()
args = [b"/bin/sh", b"-c", b"echo PWNED"]
common = (args, [b"/bin/sh"], True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w,
          True, False, -1, -1, None, -1, -1, None)
try:
    try:
        pid = _posixsubprocess.fork_exec(*common, True)
    except TypeError:
        pid = _posixsubprocess.fork_exec(*common)
except OSError as e:
    report("fork", e)
os.close(w)
failure = b""
while chunk := os.read(r, 256):  # the child writes its error in pieces
    failure += chunk
os.waitpid(pid, 0)
if failure.startswith(b"OSError:"):
    report("exec", OSError(int(failure.split(b":")[1], 16), "exec"))
succeeded()
"""


@dataclasses.dataclass(frozen=True)
class Attack:
    name: str
    summary: str
    code: str  # a template: {port}, {target} are filled in by the harness
    stoppers: tuple[str, ...]  # layers that can stop it, in the order it meets them
    signatures: dict[tuple[str, str], str]  # (step, errno) -> layer ("" = DAC, see below)
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)

    def expected(self, layers: Sequence[str]) -> str | None:
        return next((name for name in self.stoppers if name in layers), None)


ATTACKS: tuple[Attack, ...] = (
    Attack(
        "tcp-connect",
        "open a TCP connection to a listener on 127.0.0.1 (network off)",
        _TCP,
        ("seccomp", "landlock", "bubblewrap"),
        {
            ("socket", "EPERM"): "seccomp",
            ("connect", "EACCES"): "landlock",
            ("connect", "ECONNREFUSED"): "bubblewrap",
            ("connect", "ENETUNREACH"): "bubblewrap",
            ("connect", "ETIMEDOUT"): "bubblewrap",
        },
    ),
    Attack(
        "write-outside",
        "write into a world-writable directory outside the private one",
        _WRITE,
        ("bubblewrap", "landlock"),
        {("open", "EROFS"): "bubblewrap", ("open", "EACCES"): ""},
    ),
    Attack(
        "read-planted-key",
        "read a (world-readable) fake key planted in .grace/keys",
        _READ,
        ("bubblewrap", "landlock"),
        {("open", "ENOENT"): "bubblewrap", ("open", "EACCES"): ""},
    ),
    Attack(
        "allocate-2g",
        "touch 2 GiB of memory (limit 256 MiB)",
        _ALLOC,
        ("cgroups", "process"),
        {("alloc", "ENOMEM"): "process"},
        {"memory_bytes": 256 * MiB},
    ),
    Attack(
        "fork-bomb",
        "fork 64 children (limit 16 processes)",
        _FORK_BOMB,
        ("cgroups", "process"),
        {("fork", "EAGAIN"): "process", ("fork", "EPERM"): "seccomp"},
        {"processes": 16},
    ),
    Attack(
        "cpu-spin",
        "spin the CPU past its 1 s limit",
        _CPU,
        ("process",),
        {},
        {"cpu_seconds": 1, "timeout": 20.0},
    ),
    Attack(
        "exhaust-fds",
        "open files until none are left (limit 64)",
        _FDS,
        ("process",),
        {("open", "EMFILE"): "process"},
        {"open_files": 64},
    ),
    Attack(
        "big-file",
        "write an 8 MiB file (limit 1 MiB)",
        _BIG_FILE,
        ("process",),
        {("write", "EFBIG"): "process"},
        {"file_size_bytes": 1 * MiB},
    ),
    Attack(
        "exec-shell",
        "replace the process with /bin/sh",
        _EXEC_SH,
        ("landlock",),
        {("exec", "EACCES"): "landlock"},
    ),
    Attack(
        "ctypes-system",
        "call libc system() through ctypes",
        _CTYPES_SYSTEM,
        ("landlock",),
        {("exec", "EACCES"): "landlock", ("fork", "EPERM"): "seccomp"},
    ),
    Attack(
        "fork-exec",
        "call _posixsubprocess.fork_exec directly to run /bin/sh",
        _FORK_EXEC,
        ("landlock",),
        {
            ("exec", "EACCES"): "landlock",
            ("fork", "EPERM"): "seccomp",
            ("fork", "EAGAIN"): "process",
        },
    ),
)


@dataclasses.dataclass(frozen=True)
class AttackOutcome:
    attack: str
    summary: str
    stopped: bool
    stopped_by: str | None  # the layer that stopped it (None: it succeeded)
    expected: str | None  # the first active layer on its path (None: nothing here can)
    evidence: str

    @property
    def as_expected(self) -> bool:
        return self.stopped_by == self.expected

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "as_expected": self.as_expected}


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict):
                return doc
    return {}


def classify(attack: Attack, result: SandboxResult) -> tuple[str | None, str]:
    """The layer that stopped ``attack`` in ``result`` (None if it got through), and why."""
    for reason in result.stopped_by:
        layer = reason.split(":", 1)[0]
        return layer, reason
    observed = _last_json(result.stdout)
    if "PWNED" in result.stdout or observed.get("outcome") == "succeeded":
        return None, f"the attack succeeded: {result.stdout.strip()[-200:]}"
    key = (str(observed.get("step")), str(observed.get("errno")))
    if key in attack.signatures:
        layer = attack.signatures[key]
        if layer == "":  # EACCES: Landlock when active, else plain file permissions
            layer = "landlock" if "landlock" in result.layers else "process"
        return layer, f"{key[0]} failed with {key[1]}"
    detail = result.stdout.strip()[-200:] or result.stderr.strip()[-200:]
    return "unexplained", f"exit {result.exit_code} signal {result.signal}: {detail}"


@contextlib.contextmanager
def _listener() -> Iterator[tuple[int, threading.Event]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted = threading.Event()
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                accepted.set()
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        done.set()
        thread.join(timeout=2)
        server.close()


@contextlib.contextmanager
def _target_workspace() -> Iterator[Path]:
    """A throw-away workspace with a planted key and a world-writable directory."""
    root = Path(tempfile.mkdtemp(prefix="grace-attack-"))
    try:
        root.chmod(0o755)
        keys = root / ".grace" / "keys"
        keys.mkdir(parents=True)
        for path in (root / ".grace", keys):
            path.chmod(0o755)
        (keys / "fake-ed25519.key").write_text("FAKE PRIVATE KEY\n")
        (keys / "fake-ed25519.key").chmod(0o644)
        outside = root / "outside"
        outside.mkdir()
        outside.chmod(0o777)
        (root / "data.csv").write_text("a,b\n1,2\n")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_attacks(
    report: IsolationReport,
    *,
    level: int | None = None,
    python: str | None = None,
    only: Sequence[str] = (),
    progress: Callable[[AttackOutcome], None] | None = None,
) -> list[AttackOutcome]:
    """Run the matrix (or the attacks named in ``only``) at ``level`` and classify each."""
    lang = language("python", python=python)
    outcomes = []
    with _target_workspace() as ws, _listener() as (port, accepted):
        inputs = tuple(p for p in ws.iterdir() if p.name != ".grace")
        for attack in ATTACKS:
            if only and attack.name not in only:
                continue
            code = _REPORT + attack.code.format(
                port=port,
                target=str(
                    ws / ".grace/keys/fake-ed25519.key"
                    if attack.name == "read-planted-key"
                    else ws / "outside/pwned.txt"
                ),
            )
            spec = SandboxSpec(
                argv=lang.argv("attack.py"),
                files={"attack.py": code.encode()},
                limits=Limits(**{"timeout": 30.0, **attack.limits}),
                inputs=inputs,
                hidden=(ws / ".grace",),
                execute=lang.execute,
                bind=lang.bind,
                level=level,
            )
            accepted.clear()
            result = run(spec, report)
            layer, evidence = classify(attack, result)
            if attack.name == "tcp-connect" and accepted.is_set():
                layer, evidence = None, "the listener accepted a connection"
            if attack.name == "write-outside" and (ws / "outside/pwned.txt").exists():
                layer, evidence = None, "the file appeared outside the sandbox"
            outcome = AttackOutcome(
                attack=attack.name,
                summary=attack.summary,
                stopped=layer is not None,
                stopped_by=layer,
                expected=attack.expected(result.layers),
                evidence=evidence,
            )
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    return outcomes
