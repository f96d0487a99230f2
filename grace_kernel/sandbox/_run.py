"""Run one command inside every isolation layer this machine offers.

:func:`run` builds the launch from a :class:`SandboxSpec` and an
:class:`~grace_kernel.sandbox._probe.IsolationReport`::

    [sh: join cgroups] -> [bwrap: namespaces, read-only root]
        -> python _launcher.py: rlimits, uid drop, Landlock, seccomp -> execve(target)

Everything happens in a private directory (the target's cwd, HOME and TMPDIR)
that only this run may write.  The process runs in its own session and is
killed as a group (and, with cgroups, every process in its group) on timeout.
:class:`SandboxResult` says how it ended, what stopped it (a limit, a layer),
what it used and which files it left in the private directory; the caller may
copy those files out before the directory is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import marshal
import os
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from grace_kernel.errors import GraceEnvironmentError, InputError
from grace_kernel.sandbox._cgroup import CgroupLimits, RunGroup
from grace_kernel.sandbox._probe import (
    LAUNCHER,
    LAYERS,
    IsolationReport,
    bwrap_namespaces,
    level_of,
)

__all__ = [
    "Launch",
    "Limits",
    "NetMode",
    "SandboxError",
    "SandboxResult",
    "SandboxSpec",
    "WrittenFile",
    "level_of",
    "parse_size",
    "planned_layers",
    "run",
]

NetMode = Literal["none", "loopback", "allow-list"]

MiB = 1 << 20
GiB = 1 << 30
_LAUNCH_FAILED = 125
_SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc",
    "/opt",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/proc/self",
    "/proc/meminfo",
    "/proc/cpuinfo",
    "/proc/stat",
    "/sys/devices/system/cpu",
)
# Replaced by empty tmpfs under bubblewrap: shared scratch space and homes.
_HIDDEN_ROOTS = ("/tmp", "/var/tmp", "/root", "/home", "/run")  # noqa: S108
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(GraceEnvironmentError):
    """The sandbox could not be set up as asked (a layer failed, a mode is unsupported)."""


_BOUNDS: dict[str, tuple[float, float]] = {
    "timeout": (0.1, 86_400.0),
    "cpu_seconds": (1, 86_400),
    "memory_bytes": (16 * MiB, 1 << 40),
    "file_size_bytes": (1, 1 << 40),
    "open_files": (16, 1 << 20),
    "processes": (1, 1 << 15),
    "cpu_share": (0.01, 1024.0),
    "output_bytes": (1024, 1 << 30),
}


_UNITS = {"": 1, "k": 1 << 10, "m": MiB, "g": GiB, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5GiB``, ``65536`` -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if match is None:
        raise InputError(f"{text!r} is not a size (use e.g. 512M, 2G or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits of one run; every value has bounds and out-of-bounds is refused."""

    timeout: float = 60.0  # wall clock, seconds
    cpu_seconds: int = 30
    memory_bytes: int = 1 * GiB
    file_size_bytes: int = 256 * MiB
    open_files: int = 256
    processes: int = 64
    cpu_share: float | None = None  # CPUs' worth of time (cgroups only); None: unlimited
    output_bytes: int = 4 * MiB  # captured per stream; the rest is counted, not kept

    def __post_init__(self) -> None:
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if value is None and name == "cpu_share":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"limit {name} must be a number, not {value!r}")
            if not low <= value <= high:
                raise InputError(f"limit {name}={value} is outside {low}..{high}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SandboxSpec:
    """What to run and what it may touch.

    ``argv[0]`` is an absolute path; relative arguments resolve in the private
    directory, where ``files`` (name -> bytes) are placed before the launch,
    and ``links`` (name -> path) as symbolic links (e.g. to the inputs, so the
    code finds ``data.csv`` where it expects it; they stay read-only).
    ``inputs`` are readable (never writable) in place; ``hidden`` directories
    (e.g. ``.grace``) are replaced by empty ones under bubblewrap and left out
    of Landlock's allow-list.  ``execute`` lists the only files or directories
    the target may execute (Landlock).  ``level`` caps the layers used (the
    first N of :data:`LAYERS`); ``None`` uses every layer the machine has.
    """

    argv: tuple[str, ...]
    limits: Limits = Limits()
    net: NetMode = "none"
    connect_ports: tuple[int, ...] = ()
    files: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    links: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    inputs: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    execute: tuple[Path, ...] = ()
    bind: tuple[Path, ...] = ()  # extra read-only paths (e.g. an interpreter's prefix)
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    stdin: bytes | None = None
    no_fork: bool = False
    level: int | None = None

    def __post_init__(self) -> None:
        if not self.argv or not Path(self.argv[0]).is_absolute():
            raise InputError("the sandboxed command must start with an absolute path")
        if self.net not in get_args(NetMode):
            modes = ", ".join(get_args(NetMode))
            raise InputError(f"--net must be one of {modes}, not {self.net!r}")
        if self.level is not None and not 0 <= self.level <= len(LAYERS):
            raise InputError(f"sandbox level must be 0..{len(LAYERS)}, not {self.level}")
        for name in self.files:
            if not name or "/" in name or name.startswith("."):
                raise InputError(f"{name!r}: files placed in the sandbox need a plain name")
        for port in self.connect_ports:
            if not 0 < port < 65536:
                raise InputError(f"port {port} is not a TCP port")


@dataclasses.dataclass(frozen=True)
class WrittenFile:
    """A regular file the run left in its private directory."""

    path: str  # relative to the private directory
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SandboxResult:
    exit_code: int | None  # None when killed by a signal
    signal: str | None
    timed_out: bool
    stopped_by: tuple[str, ...]  # limits and layers that ended or refused part of the run
    stdout: str
    stderr: str
    truncated: bool
    usage: Mapping[str, float]
    files: tuple[WrittenFile, ...]
    layers: tuple[str, ...]  # the layers this run used
    level: int
    missing: tuple[str, ...]  # layers this machine lacks (or the spec capped)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["files"] = [f.to_json() for f in self.files]
        doc["ok"] = self.ok
        return doc


# ----------------------------------------------------------------- building the launch


def planned_layers(spec: SandboxSpec, report: IsolationReport) -> tuple[str, ...]:
    """The layers a run of ``spec`` gets here: the machine's, capped by ``spec.level``."""
    cap = len(LAYERS) if spec.level is None else spec.level
    return tuple(name for name in LAYERS[:cap] if report.active(name))


def _rlimits(limits: Limits, *, cgroups: bool) -> dict[str, list[int]]:
    # With cgroups enforcing real memory, the address-space limit only has to
    # stop absurd reservations; without them it is the memory limit itself.
    address_space = limits.memory_bytes + (4 * GiB if cgroups else 0)
    processes = limits.processes * 2 if cgroups else limits.processes
    return {
        "RLIMIT_CPU": [limits.cpu_seconds, limits.cpu_seconds + 1],
        "RLIMIT_AS": [address_space, address_space],
        "RLIMIT_FSIZE": [limits.file_size_bytes, limits.file_size_bytes],
        "RLIMIT_NOFILE": [limits.open_files, limits.open_files],
        "RLIMIT_NPROC": [processes, processes],
        "RLIMIT_CORE": [0, 0],
    }


def elf_interpreter(path: Path) -> Path | None:
    """The dynamic loader an ELF executable names (PT_INTERP): exec opens it too."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF":
                return None
            wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
            word = order + ("Q" if wide else "I")
            (phoff,) = struct.unpack_from(word, head, 32 if wide else 28)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54 if wide else 42)
            for index in range(min(phnum, 128)):
                handle.seek(phoff + index * phentsize)
                entry = handle.read(phentsize)
                if struct.unpack_from(order + "I", entry)[0] != 3:  # PT_INTERP
                    continue
                (offset,) = struct.unpack_from(word, entry, 8 if wide else 4)
                (size,) = struct.unpack_from(word, entry, 32 if wide else 16)
                handle.seek(offset)
                name = handle.read(min(size, 4096)).rstrip(b"\0").decode()
                return Path(os.path.realpath(name))
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None


def _executables(paths: Sequence[Path]) -> list[str]:
    found = []
    for path in paths:
        real = Path(os.path.realpath(path))
        found.append(str(real))
        if real.is_file() and (loader := elf_interpreter(real)) is not None:
            found.append(str(loader))
    return found


def _landlock_config(spec: SandboxSpec, private: Path) -> dict[str, Any]:
    hidden = {str(h) for h in spec.hidden}
    reads = [*_SYSTEM_READ, *(str(p) for p in (*spec.inputs, *spec.bind)), str(LAUNCHER.parent)]
    return {
        "read": [p for p in reads if p not in hidden],
        "execute": _executables(spec.execute),
        "write": [str(private), "/dev/null"],
        "handle_net": spec.net != "loopback",
        "connect_ports": list(spec.connect_ports) if spec.net == "allow-list" else [],
    }


def _under(path: Path, roots: Sequence[str]) -> bool:
    return any(path == Path(r) or Path(r) in path.parents for r in roots)


def _bwrap_argv(
    spec: SandboxSpec, report: IsolationReport, private: Path, groups: Sequence[Path] = ()
) -> list[str]:
    assert report.bwrap is not None
    argv = [report.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    homes = {*_HIDDEN_ROOTS, str(Path.home())}
    roots = sorted(h for h in homes if Path(h).is_dir())
    for root in roots:
        argv += ["--tmpfs", root]
    visible = {*spec.inputs, *spec.bind, LAUNCHER.parent, *(Path(p) for p in spec.execute)}
    visible |= {Path(sys.prefix), Path(sys.base_prefix)}
    made: set[Path] = set()
    bound: list[str] = []
    for path in sorted({Path(os.path.realpath(p)) for p in visible}, key=lambda p: len(p.parts)):
        if not _under(path, roots) or _under(path, bound) or not path.exists():
            continue
        # bwrap would create the missing parents 0700: unreachable after the uid drop
        for parent in reversed(path.parents):
            if _under(parent, roots) and str(parent) not in roots and parent not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += ["--ro-bind", str(path), str(path)]
        bound.append(str(path))
    for path in spec.hidden:
        if path.is_dir():
            argv += ["--tmpfs", str(path)]
    argv += ["--bind", str(private), str(private)]
    for group in groups:  # writable only until the launcher drops root
        argv += ["--bind", str(group), str(group)]
    argv += bwrap_namespaces(root=os.getuid() == 0)
    if spec.net != "allow-list":
        argv.append("--unshare-net")
    return [*argv, "--die-with-parent", "--chdir", str(private), "--"]


def _environment(spec: SandboxSpec, private: Path) -> dict[str, str]:
    env = {
        "PATH": _SAFE_PATH,
        "HOME": str(private),
        "TMPDIR": str(private),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "GRACE_SANDBOX": "1",
    }
    env.update(spec.env)
    return env


# ----------------------------------------------------------------- running


class _Capture(threading.Thread):
    """Drain one pipe, keeping at most ``limit`` bytes."""

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        while chunk := self.stream.read(65536):
            room = self.limit - len(self.kept)
            self.kept += chunk[: max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)
        self.stream.close()


def _written(private: Path, placed: Mapping[str, bytes], uid: int | None) -> list[WrittenFile]:
    """Regular files the run created or changed; never follows links it planted."""
    found = []
    for dirpath, _dirs, names in os.walk(private, followlinks=False):
        for name in names:
            full = Path(dirpath, name)
            rel = str(full.relative_to(private))
            info = full.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                continue  # links and devices are not output
            if uid is not None and info.st_uid != uid:
                continue
            digest = _digest(full)
            if rel in placed and hashlib.sha256(placed[rel]).hexdigest() == digest:
                continue
            found.append(WrittenFile(rel, info.st_size, digest))
    return sorted(found, key=lambda f: f.path)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stopped_by(
    *,
    sig: str | None,
    timed_out: bool,
    usage: Mapping[str, float],
    limits: Limits,
    group: RunGroup | None,
) -> list[str]:
    reasons = []
    if timed_out:
        reasons.append(f"process: wall-clock timeout ({limits.timeout:g} s)")
    cpu = usage.get("cpu_user_s", 0.0) + usage.get("cpu_sys_s", 0.0)
    if sig == "SIGXCPU" or (sig == "SIGKILL" and cpu >= limits.cpu_seconds):
        reasons.append(f"process: RLIMIT_CPU ({limits.cpu_seconds} s of CPU)")
    if sig == "SIGXFSZ":
        reasons.append("process: RLIMIT_FSIZE")
    if sig == "SIGSYS":
        reasons.append("seccomp: a forbidden system call")
    if group is not None:
        if group.oom_kills():
            reasons.append(f"cgroups: memory limit ({limits.memory_bytes // MiB} MiB), OOM kill")
        if refused := group.fork_refusals():
            reasons.append(f"cgroups: pids limit ({limits.processes}) refused {refused} fork(s)")
    return reasons


def _decode_status(raw: int, *, bwrap: bool) -> tuple[int | None, str | None]:
    if os.WIFSIGNALED(raw):
        return None, signal.Signals(os.WTERMSIG(raw)).name
    code = os.WEXITSTATUS(raw)
    if bwrap and code > 128:  # bwrap reports a child killed by signal N as 128 + N
        with contextlib.suppress(ValueError):
            return None, signal.Signals(code - 128).name
    return code, None


def _private_dir(spec: SandboxSpec, report: IsolationReport) -> Path:
    """A fresh directory only the sandboxed process (and root) may write."""
    path = Path(tempfile.mkdtemp(prefix="grace-sandbox-"))
    files = spec.files
    for name, data in files.items():
        (path / name).write_bytes(data)
    for name, target in spec.links.items():
        if name not in files:
            (path / name).symlink_to(target)
    if report.uid is not None and report.gid is not None:
        for target in (path, *(path / name for name in files)):
            os.chown(target, report.uid, report.gid)
    return path


class Launch:
    """One prepared sandbox: private directory, control group and command line.

    Use it as a context manager: leaving it kills whatever is still running in
    the run's group and removes the private directory and the group.
    :func:`run` uses it for one-shot commands; a kernel provisioner keeps one
    open for the kernel's lifetime and spawns with its own ``Popen`` options.
    """

    def __init__(self, spec: SandboxSpec, report: IsolationReport) -> None:
        self.spec, self.report = spec, report
        self.layers = planned_layers(spec, report)
        if spec.net == "loopback" and "bubblewrap" not in self.layers:
            raise SandboxError(
                "--net loopback needs a private network namespace (the bubblewrap layer)",
                hint="install bubblewrap, or use --net none",
            )
        self.private = _private_dir(spec, report)
        self.group: RunGroup | None = None
        try:
            if "cgroups" in self.layers and report.cgroups is not None:
                limits = spec.limits
                self.group = RunGroup(
                    report.cgroups,
                    CgroupLimits(limits.memory_bytes, limits.processes, limits.cpu_share),
                )
        except OSError as exc:
            shutil.rmtree(self.private, ignore_errors=True)
            raise SandboxError(f"cannot create the run's control group: {exc}") from None
        self._status_r, self._status_w = os.pipe()
        self.argv = self._command()

    @property
    def level(self) -> int:
        return level_of(self.layers)

    def _command(self) -> list[str]:
        spec, report, group = self.spec, self.report, self.group
        config: dict[str, Any] = {
            "status_fd": self._status_w,
            "cwd": str(self.private),
            "rlimits": _rlimits(spec.limits, cgroups=group is not None),
            "argv": list(spec.argv),
            "env": _environment(spec, self.private),
        }
        if report.uid is not None:
            config.update(uid=report.uid, gid=report.gid)
        if "landlock" in self.layers:
            config["landlock"] = _landlock_config(spec, self.private)
        if "seccomp" in self.layers:
            config["seccomp"] = {"deny_inet": spec.net == "none", "deny_fork": spec.no_fork}
        argv = [sys.executable, "-I", "-S", str(LAUNCHER)]
        if group is not None:
            # The launcher joins (as root, before anything else) once its own
            # start-up is done: charging that to the group costs ~10 ms a run.
            config["cgroup_procs"] = group.procs_files
        if "bubblewrap" in self.layers:
            groups = () if group is None else tuple(group.dirs.values())
            argv = _bwrap_argv(spec, report, self.private, groups) + argv
        return [*argv, marshal.dumps(config).hex()]

    def popen(self, **options: Any) -> subprocess.Popen[bytes]:
        """Start the command (new session, scrubbed environment, the status pipe passed)."""
        try:
            proc = subprocess.Popen(
                self.argv,
                pass_fds=(self._status_w,),
                start_new_session=True,
                cwd=self.private,
                env={"PATH": _SAFE_PATH},
                **options,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox: {exc.strerror}") from None
        finally:
            os.close(self._status_w)
            self._status_w = -1
        return proc

    def started(self, *, timeout: float = 30.0) -> None:
        """Wait until the target was exec'd; raise :class:`SandboxError` if a layer failed.

        The launcher writes ``E`` just before ``execve`` and an error object if
        a step (or the exec itself) fails.  End of file means the exec closed
        the pipe; under bubblewrap its monitor process keeps a copy open, so a
        quiet pipe shortly after ``E`` also means the target is running.
        """
        if self._status_r < 0:
            return
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                wait = min(left, 0.25) if data.startswith(b"E") else left
                ready, _, _ = select.select([self._status_r], [], [], wait)
                if not ready:
                    if data.startswith(b"E"):
                        break
                    continue
                chunk = os.read(self._status_r, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(self._status_r)
            self._status_r = -1
        if not data and time.monotonic() >= deadline:
            raise SandboxError(f"the sandbox did not start within {timeout:g} s")
        if body := data.lstrip(b"E"):
            layer, _, error = body.decode(errors="replace").partition("\t")
            failure = {"layer": layer, "error": error}
            raise SandboxError(
                f"the sandbox could not start: {failure['layer']}: {failure['error']}",
                hint=_launch_hint(failure),
            )

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the run's session and, with cgroups, every process in its group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self.group is not None:
            self.group.kill_all(wait=0.5)

    def close(self) -> None:
        for fd in (self._status_r, self._status_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._status_r = self._status_w = -1
        try:
            if self.group is not None:
                self.group.remove()
        finally:
            shutil.rmtree(self.private, ignore_errors=True)

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(
    spec: SandboxSpec,
    report: IsolationReport,
    *,
    collect: Callable[[Path, tuple[WrittenFile, ...]], None] | None = None,
) -> SandboxResult:
    """Run ``spec`` to completion in the layers ``report`` offers (capped by ``spec.level``).

    ``collect(private_dir, files)`` is called after the run and before the
    private directory is removed, to copy out what the caller wants.
    """
    with Launch(spec, report) as launch:
        started = time.monotonic()
        proc = launch.popen(
            stdin=subprocess.PIPE if spec.stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        result = _supervise(launch, proc, started)
        if collect is not None:
            collect(launch.private, result.files)
        return result


def _supervise(launch: Launch, proc: subprocess.Popen[bytes], started: float) -> SandboxResult:
    spec, group = launch.spec, launch.group
    out = _Capture(proc.stdout, spec.limits.output_bytes)
    err = _Capture(proc.stderr, spec.limits.output_bytes)
    out.start()
    err.start()
    if spec.stdin is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(spec.stdin)
        proc.stdin.close()
    fired = threading.Event()

    def on_timeout() -> None:
        fired.set()
        launch.kill(proc)

    timer = threading.Timer(spec.limits.timeout, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        _pid, raw, rusage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.monotonic() - started
    proc.returncode = raw  # reaped here; keep Popen from waiting again
    launch.kill(proc)  # whatever the target left behind in its session
    out.join(timeout=5)
    err.join(timeout=5)
    launch.started()
    layers = launch.layers
    code, sig = _decode_status(raw, bwrap="bubblewrap" in layers)
    usage: dict[str, float] = {
        "wall_s": round(wall, 4),
        "cpu_user_s": round(rusage.ru_utime, 4),
        "cpu_sys_s": round(rusage.ru_stime, 4),
        "max_rss_kib": float(rusage.ru_maxrss),
    }
    if group is not None:
        usage["peak_memory_bytes"] = float(group.peak_memory())
    stopped = _stopped_by(
        sig=sig, timed_out=fired.is_set(), usage=usage, limits=spec.limits, group=group
    )
    return SandboxResult(
        exit_code=code,
        signal=sig,
        timed_out=fired.is_set(),
        stopped_by=tuple(stopped),
        stdout=out.kept.decode("utf-8", errors="replace"),
        stderr=err.kept.decode("utf-8", errors="replace"),
        truncated=bool(out.dropped or err.dropped),
        usage=usage,
        files=tuple(_written(launch.private, spec.files, launch.report.uid)),
        layers=layers,
        level=level_of(layers),
        missing=tuple(name for name in LAYERS if name not in layers),
    )


def _launch_hint(failure: Mapping[str, str]) -> str:
    if failure.get("layer") == "exec" and "ermission" in failure.get("error", ""):
        return (
            "the sandbox user cannot reach that program (e.g. an interpreter under /root); "
            "with the bubblewrap layer Grace binds it in, or pick one outside private homes"
        )
    return "run `grace doctor` to see which isolation layers work on this machine"
