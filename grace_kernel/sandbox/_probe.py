"""What isolation this machine really offers: each layer checked by trying it.

Nothing here trusts a version number or a config file alone.  seccomp and
Landlock are loaded in throw-away child processes that then try what the layer
must stop; bubblewrap starts a real (empty) sandbox; cgroups get a real child
group created and removed.  A layer that fails its check is reported missing
with the reason, so ``grace doctor`` tells the truth and policies can require
a minimum level (``sandbox_level``).

The probe takes well under a second and is cached per process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grace_kernel.sandbox._cgroup import Hierarchy, find_hierarchy

__all__ = [
    "LAUNCHER",
    "LAYERS",
    "IsolationReport",
    "LayerStatus",
    "bwrap_namespaces",
    "level_of",
    "probe",
]

#: The layers, weakest first.  The level is how many of them, from the start
#: of this tuple, are active: level 2 means process limits *and* seccomp.
LAYERS = ("process", "seccomp", "landlock", "bubblewrap", "cgroups")

LAUNCHER = Path(__file__).with_name("_launcher.py")

_PROBE_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class LayerStatus:
    name: str
    active: bool
    detail: str  # what it enforces here, or why it is missing

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "active": self.active, "detail": self.detail}


@dataclasses.dataclass(frozen=True)
class IsolationReport:
    """The isolation matrix of this machine for this user."""

    layers: tuple[LayerStatus, ...]
    uid: int | None  # the uid sandboxed code runs as (None: unchanged, not root)
    gid: int | None
    user: str
    landlock_abi: int
    bwrap: str | None
    cgroups: Hierarchy | None
    probe_ms: float

    @property
    def level(self) -> int:
        """How many layers, weakest first, are all active (0..5)."""
        return level_of([layer.name for layer in self.layers if layer.active])

    def active(self, name: str) -> bool:
        return any(layer.name == name and layer.active for layer in self.layers)

    def layer(self, name: str) -> LayerStatus:
        return next(layer for layer in self.layers if layer.name == name)

    def missing(self) -> list[LayerStatus]:
        return [layer for layer in self.layers if not layer.active]

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "max_level": len(LAYERS),
            "layers": [layer.to_json() for layer in self.layers],
            "user": self.user,
            "uid": self.uid,
            "landlock_abi": self.landlock_abi,
            "bubblewrap": self.bwrap,
            "cgroups": self.cgroups.describe() if self.cgroups else None,
            "probe_ms": round(self.probe_ms, 1),
        }


def level_of(layers: Sequence[str]) -> int:
    """How many layers of :data:`LAYERS`, weakest first, are all in ``layers``."""
    level = 0
    for name in LAYERS:
        if name not in layers:
            break
        level += 1
    return level


def bwrap_namespaces(*, root: bool) -> list[str]:
    """Every namespace but the user namespace when root (the launcher drops the uid)."""
    spaces = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    return spaces if root else ["--unshare-user", *spaces]


def _process_layer(user: str) -> tuple[LayerStatus, int | None, int | None]:
    base = "new session and process group, wall-clock timeout, setrlimit, scrubbed environment"
    if os.getuid() != 0:
        name = pwd.getpwuid(os.getuid()).pw_name
        return LayerStatus("process", True, f"{base}; runs as {name} (not root)"), None, None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return (
            LayerStatus("process", False, f"running as root and no user {user!r} to drop to"),
            None,
            None,
        )
    detail = f"{base}; drops root to {user} (uid {entry.pw_uid}) so process limits bite"
    return LayerStatus("process", True, detail), entry.pw_uid, entry.pw_gid


def _launcher_probe() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="grace-probe-") as scratch:
        try:
            out = subprocess.run(
                [sys.executable, "-I", "-S", str(LAUNCHER), "--probe", "", scratch],
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
            )
            doc: dict[str, Any] = json.loads(out.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            return {"landlock_abi": 0, "seccomp": f"error: {exc}", "landlock": f"error: {exc}"}
    return doc


def _seccomp_layer(answer: str) -> LayerStatus:
    if answer == "ok":
        detail = (
            "libseccomp filter: no ptrace, mounts, modules, namespaces, BPF or io_uring; "
            "no IPv4/IPv6 sockets unless the network is allowed; optional no-fork"
        )
        return LayerStatus("seccomp", True, detail)
    reason = answer.removeprefix("error: ")
    if "libseccomp" in reason:
        reason += " (install libseccomp2)"
    return LayerStatus("seccomp", False, f"seccomp filter could not be loaded: {reason}")


def _landlock_layer(answer: str, abi: int) -> LayerStatus:
    if abi < 1:
        return LayerStatus("landlock", False, "the kernel has no Landlock (or it is disabled)")
    if not answer.startswith("ok"):
        return LayerStatus("landlock", False, f"Landlock ABI {abi} but: {answer}")
    parts = ["file-system allow-list (read: system and inputs; write: private dir only)"]
    parts.append("no TCP connect/bind" if abi >= 4 else "TCP not covered (ABI < 4)")
    if abi >= 6:
        parts.append("no signals or abstract sockets outside the sandbox")
    return LayerStatus("landlock", True, f"ABI {abi}: " + "; ".join(parts))


def _bwrap_layer() -> tuple[LayerStatus, str | None]:
    path = shutil.which("bwrap")
    if path is None:
        missing = "bwrap is not installed (apt-get install bubblewrap)"
        return LayerStatus("bubblewrap", False, missing), None
    argv = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net"]
    argv += [*bwrap_namespaces(root=os.getuid() == 0), "--die-with-parent", "--", "/bin/true"]
    try:
        out = subprocess.run(argv, capture_output=True, timeout=_PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return LayerStatus("bubblewrap", False, f"bwrap did not start: {exc}"), None
    if out.returncode != 0:
        why = out.stderr.decode(errors="replace").strip() or f"exit {out.returncode}"
        return LayerStatus("bubblewrap", False, f"bwrap cannot create namespaces here: {why}"), None
    detail = (
        "read-only root, tmpfs over /tmp, home and .grace, workspace read-only, "
        "private pid/ipc/uts/network namespaces (no network unless allowed)"
    )
    return LayerStatus("bubblewrap", True, detail), path


def _cgroup_layer() -> tuple[LayerStatus, Hierarchy | None]:
    hierarchy, why = find_hierarchy()
    if hierarchy is None:
        return LayerStatus("cgroups", False, why), None
    detail = f"memory, process-count and CPU-share limits per run ({hierarchy.describe()})"
    return LayerStatus("cgroups", True, detail), hierarchy


def _probe(user: str) -> IsolationReport:
    started = time.perf_counter()
    process, uid, gid = _process_layer(user)
    answers = _launcher_probe()
    abi = int(answers.get("landlock_abi", 0))
    bwrap, bwrap_path = _bwrap_layer()
    cgroups, hierarchy = _cgroup_layer()
    layers = (
        process,
        _seccomp_layer(str(answers.get("seccomp", ""))),
        _landlock_layer(str(answers.get("landlock", "")), abi),
        bwrap,
        cgroups,
    )
    return IsolationReport(
        layers=layers,
        uid=uid,
        gid=gid,
        user=user if uid is not None else pwd.getpwuid(os.getuid()).pw_name,
        landlock_abi=abi,
        bwrap=bwrap_path,
        cgroups=hierarchy,
        probe_ms=(time.perf_counter() - started) * 1000,
    )


_cache: dict[str, IsolationReport] = {}
_lock = threading.Lock()


def probe(*, user: str = "nobody", refresh: bool = False) -> IsolationReport:
    """The isolation matrix, probed once per process (``refresh`` probes again)."""
    with _lock:
        if refresh or user not in _cache:
            _cache[user] = _probe(user)
        return _cache[user]
