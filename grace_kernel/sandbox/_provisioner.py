"""Whole kernels in the sandbox: a jupyter_client kernel provisioner (docs/sandbox.md).

A kernelspec whose ``metadata.kernel_provisioner.provisioner_name`` is
``grace-sandbox-provisioner`` (Grace ships "Python 3 (Grace, sandboxed)",
``grace-python3-sandboxed``) starts its kernel through
:class:`~grace_kernel.sandbox._run.Launch`, inside every layer the machine
has, so even native code in the kernel is confined.  What it takes:

- **Transport**: ZMQ over ``ipc`` (Unix sockets), never TCP, so the kernel
  runs with ``net="none"`` (no IP sockets, no network namespace).  The
  kernel binds its five sockets under a per-kernel directory the server
  creates (``grace-kernel-*``: the connection file, a read-only copy of the
  workspace's own policies, and ``ipc``, a symbolic link to the launch's
  private directory, the one place the sandbox may create files).  The
  socket paths stay the same when the kernel restarts (a new launch, a new
  private directory, the link re-pointed), so the server's open channels
  simply reconnect.
- **What it reads**: the interpreter, the workspace read-only (its entries
  at the top, the notebook's directory linked into the private directory so
  relative paths still work) and the copy of the workspace policies; never
  ``.grace`` (an empty tmpfs under bubblewrap, left out of Landlock's list,
  and ``0700`` root anyway).  The kernel runs supervised by the server, so it
  never signs; the ledger, approvals and alerts are not readable inside (the
  ``%grace`` magics that need them say so).
- **Limits**: a long-lived process, so no wall-clock timeout and a day of
  CPU time; memory, processes (threads count), CPU share, open files and file
  size from ``metadata.grace_sandbox`` with the defaults in
  :data:`KERNEL_LIMITS`.  The kernel's output goes where a local kernel's
  goes (the server's own stdout and stderr), never into memory.
- **Lifecycle**: under bubblewrap the spawned process is ``bwrap`` and the
  kernel lives in its pid namespace; signals other than ``SIGKILL`` go to
  the kernel process (found by its command line among bwrap's descendants)
  and its children, never to ``bwrap`` (which would die, taking the kernel
  with it).  ``SIGKILL`` kills the session and the control group;
  ``cleanup`` removes the control group and the private directory, and, when
  not restarting, the per-kernel directory.
- **Isolation floor**: before each launch the policy decides ``sandbox.run``
  at this machine's level (seeded: ``sandbox-minimum-isolation``); below it
  the kernel is refused, never started unconfined.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.config import Settings
from grace_kernel.errors import InputError
from grace_kernel.governance import Action, ActionKind, Decision, PolicyEngine, Principal
from grace_kernel.sandbox._governed import workspace_inputs
from grace_kernel.sandbox._langs import language
from grace_kernel.sandbox._probe import LAYERS, IsolationReport, probe
from grace_kernel.sandbox._run import (
    Launch,
    Limits,
    SandboxError,
    SandboxSpec,
    level_of,
    parse_size,
    planned_layers,
)

__all__ = [
    "KERNEL_LIMITS",
    "PROVISIONER_NAME",
    "SANDBOXED_KERNEL_NAME",
    "KernelSandbox",
    "SandboxProvisioner",
    "isolation_refusal",
    "kernel_action",
    "kernel_limits",
    "kernel_processes",
    "sandboxed_kernelspec",
]

PROVISIONER_NAME = "grace-sandbox-provisioner"
SANDBOXED_KERNEL_NAME = "grace-python3-sandboxed"
METADATA_KEY = "grace_sandbox"

#: ``metadata.grace_sandbox`` keys, the :class:`Limits` field each sets, and its default.
#: Sizes take a number of bytes or a string such as ``"2G"``; ``cpu_share: null`` is unlimited.
KERNEL_LIMITS: Mapping[str, tuple[str, int | float | str | None]] = {
    "memory": ("memory_bytes", "4G"),
    "processes": ("processes", 512),  # threads count too: numerical libraries start many
    "cpu_share": ("cpu_share", 1.0),
    "cpu_seconds": ("cpu_seconds", 86_400),
    "open_files": ("open_files", 4096),
    "file_size": ("file_size_bytes", "1G"),
}
_SIZES = frozenset({"memory", "file_size"})
_NO_TIMEOUT = 86_400.0  # the largest Limits allows; a kernel has no wall-clock timeout
_MAX_LINKS = 4096  # notebook-directory entries linked into the private directory
_SUN_PATH_MAX = 107  # a Unix socket path, with its terminating NUL, fits in 108 bytes
_SOCKET_PREFIX = "kernel"  # the sockets are <private>/kernel-1 .. kernel-5
_KERNEL_ENV = frozenset({"JPY_SESSION_NAME"})  # passed through besides GRACE_* and the spec's env


def _size(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return parse_size(value)
    except InputError:
        raise InputError(f"{METADATA_KEY}.{name}: {value!r} is not a size (e.g. 2G)") from None


def kernel_limits(metadata: Mapping[str, Any]) -> Limits:
    """The limits a sandboxed kernel gets from its kernelspec's ``metadata.grace_sandbox``."""
    config = metadata.get(METADATA_KEY) or {}
    if not isinstance(config, Mapping):
        raise InputError(f"kernelspec metadata.{METADATA_KEY} must be an object")
    unknown = sorted(set(config) - set(KERNEL_LIMITS))
    if unknown:
        known = ", ".join(KERNEL_LIMITS)
        raise InputError(f"metadata.{METADATA_KEY}: unknown limit(s) {unknown}; known: {known}")
    values: dict[str, Any] = {}
    for key, (field, default) in KERNEL_LIMITS.items():
        value = config.get(key, default)
        values[field] = _size(key, value) if key in _SIZES else value
    return Limits(timeout=_NO_TIMEOUT, **values)


def sandboxed_kernelspec(python: str) -> dict[str, Any]:
    """The kernel.json of "Python 3 (Grace, sandboxed)" for the interpreter ``python``."""
    return {
        "argv": [python, "-m", "grace_kernel.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (Grace, sandboxed)",
        "language": "python",
        "metadata": {
            "debugger": False,
            "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME, "config": {}},
            METADATA_KEY: {key: default for key, (_field, default) in KERNEL_LIMITS.items()},
        },
    }


def kernel_action(
    kernel_name: str, level: int, *, principal: Principal, detail: Mapping[str, Any] | None = None
) -> Action:
    """The ``sandbox.run`` action a sandboxed kernel start is decided as."""
    return Action(
        kind=ActionKind.SANDBOX_RUN,
        principal=principal,
        resource=f"kernel:{kernel_name}",
        sandbox_level=level,
        detail=dict(detail or {}),
    )


def isolation_refusal(decision: Decision, report: IsolationReport, level: int) -> str:
    """Why a sandboxed kernel may not start here, in words a person can act on."""
    missing = "; ".join(f"{layer.name}: {layer.detail}" for layer in report.missing())
    return (
        f"the sandboxed kernel was not started: this machine offers isolation level "
        f"{level} of {len(LAYERS)} and policy answers {decision.effect.value} "
        f"[{', '.join(decision.policy_ids) or 'no policy permits it'}: "
        f"{'; '.join(decision.reasons)}]" + (f". Missing: {missing}" if missing else "")
    )


# ----------------------------------------------------------------- the per-kernel directory


class _KernelDir:
    """What must outlive one launch: connection file, policy copy, the ``ipc`` link.

    ``0711`` and owned by root: the sandbox user reaches the names it is given
    (read-only, bound in under bubblewrap, readable under Landlock) and cannot
    list or change anything here.
    """

    def __init__(self, kernel_id: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="grace-kernel-"))
        self.root.chmod(0o711)
        self.connection_file = self.root / f"kernel-{kernel_id}.json"
        self.ipc = self.root / "ipc"
        self.policies = self.root / "policies"
        if len(f"{self.ipc_prefix}-99999") > _SUN_PATH_MAX:
            self.remove()
            raise SandboxError(
                f"{self.root} is too long a path for the kernel's Unix sockets",
                hint="set TMPDIR to a shorter directory for the Jupyter server",
            )

    @property
    def ipc_prefix(self) -> str:
        return str(self.ipc / _SOCKET_PREFIX)

    def give(self, path: Path, report: IsolationReport) -> None:
        """Hand ``path`` (the connection file) to the sandbox user, readable only by it."""
        path.chmod(0o600)
        if report.uid is not None and report.gid is not None:
            os.chown(path, report.uid, report.gid)

    def copy_policies(self, source: Path) -> None:
        """A fresh read-only copy of the workspace's policies (each launch takes one)."""
        shutil.rmtree(self.policies, ignore_errors=True)
        self.policies.mkdir(mode=0o755)
        if source.is_dir():
            for path in sorted(source.glob("*.cedar")):
                if path.is_file():
                    target = self.policies / path.name
                    shutil.copyfile(path, target)
                    target.chmod(0o644)
        self.policies.chmod(0o755)

    def point_ipc_at(self, private: Path) -> None:
        """Re-point ``ipc`` at a launch's private directory, atomically."""
        staging = self.root / f".ipc-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        staging.symlink_to(private)
        staging.replace(self.ipc)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# ----------------------------------------------------------------- what the kernel may see


def _kernel_env(
    env: Mapping[str, str], keep: frozenset[str], *, home: Path, cwd: Path, policies: Path
) -> dict[str, str]:
    """The kernel's own variables; the launcher adds a scrubbed base (PATH, HOME, TMPDIR)."""
    out = {k: v for k, v in env.items() if k.startswith("GRACE_") or k in keep | _KERNEL_ENV}
    out["GRACE_HOME"] = str(home)
    out["GRACE_WORKSPACE_POLICIES"] = str(policies)
    session = out.get("JPY_SESSION_NAME")
    if session and Path(session).is_absolute():
        # What the kernel would compute from its own cwd, had it run in the notebook's directory.
        out["JPY_SESSION_NAME"] = os.path.relpath(session, cwd)
    return out


def _links(cwd: Path) -> dict[str, Path]:
    """The notebook directory's entries, linked (read-only) into the private directory."""
    try:
        entries = sorted(cwd.iterdir())
    except OSError:
        return {}
    # Hidden names (.ipython, ...) and the socket names are the private directory's own.
    return {
        p.name: p
        for p in entries[:_MAX_LINKS]
        if not p.name.startswith((".", _SOCKET_PREFIX + "-"))
    }


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@dataclasses.dataclass(frozen=True)
class KernelSandbox:
    """One sandboxed kernel's launch, as the server records it."""

    layers: tuple[str, ...]
    level: int
    user: str
    limits: Limits
    private: Path
    kernel_dir: Path

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in LAYERS if name not in self.layers)

    def to_json(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "level": self.level,
            "missing_layers": list(self.missing),
            "user": self.user,
            "limits": self.limits.to_json(),
            "net": "none",
            "transport": "ipc",
        }


# ----------------------------------------------------------------- process lookup


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from ``/proc`` (one pass)."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(root: int, tree: Mapping[int, list[int]]) -> list[int]:
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(sorted(tree.get(pid, ())))
    return found


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])


def kernel_processes(root: int, argv: tuple[str, ...]) -> list[int]:
    """The kernel process under ``root`` (matched by its command line) and its descendants."""
    tree = _children()
    for pid in _descendants(root, tree):
        if _cmdline(pid) == argv:
            return _descendants(pid, tree)
    return []


# ----------------------------------------------------------------- the provisioner


class SandboxProvisioner(LocalProvisioner):
    """Launches the kernelspec's command inside :class:`Launch`, over ``ipc``."""

    launch: Launch | None = None
    sandbox: KernelSandbox | None = None
    _dir: _KernelDir | None = None
    _argv: tuple[str, ...] = ()
    _launched = False

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if km is None:
            raise SandboxError("the sandbox provisioner needs a kernel manager")
        if self._dir is None:
            self._dir = _KernelDir(str(self.kernel_id))
        km.transport = "ipc"
        km.ip = self._dir.ipc_prefix
        km.cache_ports = False  # TCP port caching; a kernel moved here from tcp still has it on
        km.connection_file = str(self._dir.connection_file)
        kwargs = await super().pre_launch(**kwargs)
        self._dir.give(self._dir.connection_file, probe())
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        try:
            return await self._launch(cmd, **kwargs)
        except BaseException:
            # A kernel that never started is never cleaned up by its manager.
            if not self._launched and self._dir is not None:
                self._dir.remove()
                self._dir = None
            raise

    async def _launch(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        assert self._dir is not None  # pre_launch made it
        cwd = Path(kwargs.get("cwd") or Path.cwd()).absolute()
        report = probe()
        launch = await asyncio.to_thread(self._prepare, cmd, cwd, dict(kwargs.get("env") or {}))
        try:
            self._dir.point_ipc_at(launch.private)
            proc = launch.popen(
                stdin=subprocess.DEVNULL, stdout=kwargs.get("stdout"), stderr=kwargs.get("stderr")
            )
            try:
                await asyncio.to_thread(launch.started)
            except BaseException:
                launch.kill(proc)
                proc.wait()
                raise
        except BaseException:
            await asyncio.to_thread(launch.close)
            raise
        self._launched = True
        self.launch, self.process = launch, proc
        self.pid = self.pgid = proc.pid
        self.cwd = str(cwd)
        self.sandbox = KernelSandbox(
            layers=launch.layers,
            level=launch.level,
            user=report.user,
            limits=launch.spec.limits,
            private=launch.private,
            kernel_dir=self._dir.root,
        )
        self.log.info(
            "Grace: kernel %s runs sandboxed at level %d (%s) as %s",
            self.kernel_id,
            launch.level,
            ", ".join(launch.layers),
            report.user,
        )
        return self.connection_info

    def _prepare(self, cmd: list[str], cwd: Path, env: dict[str, str]) -> Launch:
        """Decide, build the spec and create the launch (blocking: runs in a thread)."""
        assert self._dir is not None
        report = probe()
        settings = Settings.from_env(env, cwd=cwd)
        self._dir.copy_policies(settings.override_policy_dir)
        spec = self._spec(cmd, cwd, env, settings)
        layers = planned_layers(spec, report)
        self._require_isolation(settings, report, level_of(layers))
        bind = spec.bind
        if "bubblewrap" in layers:
            # ipykernel lists /proc to end its children at shutdown; in bwrap's pid
            # namespace /proc shows only the sandbox's own processes.
            bind = (*bind, Path("/proc"))
        # The kernel says which layers confine it (%grace status); informative only.
        env = {**spec.env, "GRACE_SANDBOX_LAYERS": ",".join(layers)}
        spec = dataclasses.replace(spec, env=env, bind=bind)
        self._argv = spec.argv
        return Launch(spec, report)

    def _spec(
        self, cmd: list[str], cwd: Path, env: Mapping[str, str], settings: Settings
    ) -> SandboxSpec:
        assert self._dir is not None
        lang = language("python", python=cmd[0])
        root = settings.home.parent
        inputs = list(workspace_inputs(root)) if root.is_dir() else []
        if not _under(cwd, root):
            inputs.append(cwd)
        bind = [*lang.bind, self._dir.root, seeded_policy_dir()]
        if settings.policy_dir is not None:
            bind.append(settings.policy_dir)
        keep = frozenset(self.kernel_spec.env) if self.kernel_spec is not None else frozenset()
        return SandboxSpec(
            argv=tuple(cmd),
            limits=kernel_limits(self.kernel_spec.metadata if self.kernel_spec else {}),
            net="none",
            links=_links(cwd),
            inputs=tuple(inputs),
            hidden=(settings.home,),
            execute=lang.execute,
            bind=tuple(bind),
            env=_kernel_env(env, keep, home=settings.home, cwd=cwd, policies=self._dir.policies),
        )

    def _require_isolation(self, settings: Settings, report: IsolationReport, level: int) -> None:
        engine = PolicyEngine(
            seeded_dir=settings.policy_dir or seeded_policy_dir(),
            override_dir=settings.override_policy_dir,
        )
        name = str(getattr(self.parent, "kernel_name", "") or "kernel")
        action = kernel_action(name, level, principal=Principal.service("sandbox-provisioner"))
        decision = engine.decide(action)
        if not decision.allowed:
            raise SandboxError(isolation_refusal(decision, report, level))

    # ------------------------------------------------------------------ signals

    def _targets(self) -> list[int]:
        if self.process is None:
            return []
        found = kernel_processes(self.process.pid, self._argv)
        if found or (self.launch is not None and "bubblewrap" in self.launch.layers):
            return found
        return [self.process.pid]  # without bubblewrap the launcher became the kernel

    async def send_signal(self, signum: int) -> None:
        """Signal the kernel process and its children (never ``bwrap``); SIGKILL kills all."""
        if self.process is None:
            return
        if signum == signal.SIGKILL:
            await self.kill()
            return
        targets = await asyncio.to_thread(self._targets)
        if not targets:
            self.log.warning("Grace: kernel %s: no kernel process to signal", self.kernel_id)
            return
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    async def kill(self, restart: bool = False) -> None:
        del restart  # the same either way: the next launch is a new sandbox
        if self.process is not None and self.launch is not None:
            await asyncio.to_thread(self.launch.kill, self.process)

    async def terminate(self, restart: bool = False) -> None:
        del restart
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        launch, self.launch = self.launch, None
        if launch is not None:
            if self.process is not None and self.process.poll() is None:
                await asyncio.to_thread(launch.kill, self.process)
            await asyncio.to_thread(launch.close)
        if not restart and self._dir is not None:
            self._dir.remove()
            self._dir = None
