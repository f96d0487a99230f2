"""Per-run control groups: real memory, process-count and CPU-share limits.

Two hierarchies exist in the wild.  cgroup v2 (one tree, ``memory.max``,
``pids.max``, ``cpu.max``) and cgroup v1 (one tree per controller,
``memory.limit_in_bytes``, ``pids.max``, ``cpu.cfs_quota_us``).  Grace uses
whichever it can write, under a ``grace/`` parent it creates; a machine where
neither is writable reports the layer missing (see :mod:`._probe`).

A :class:`RunGroup` is created before the launch, joined by the launcher
(which writes ``0`` into each ``cgroup.procs`` file while still root), read
after the run (OOM kills, fork refusals, peak memory) and removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
import uuid
from pathlib import Path

__all__ = ["CgroupLimits", "Hierarchy", "RunGroup", "find_hierarchy", "sweep"]

_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpu")


@dataclasses.dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int
    pids: int
    cpu_share: float | None  # CPUs' worth of time per period, e.g. 0.5; None: no CPU group


@dataclasses.dataclass(frozen=True)
class Hierarchy:
    """Where Grace's run groups live: ``version`` 1 or 2 and the parent directories."""

    version: int
    parents: dict[str, Path]  # controller (or "unified") -> grace parent dir

    def describe(self) -> str:
        dirs = ", ".join(str(p) for p in self.parents.values())
        return f"cgroup v{self.version} at {dirs}"


def _ensure_dir(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        path.mkdir()


def _writable(path: Path) -> bool:
    """Whether a child group can be created (and removed) under ``path``."""
    probe = path / f"probe-{uuid.uuid4().hex[:8]}"
    try:
        _ensure_dir(path)
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(parent: Path) -> int:
    """Remove empty run groups whose creating process is gone (it crashed mid-run)."""
    removed = 0
    for group in parent.glob("run-*-*"):
        try:
            pid = int(group.name.split("-")[1])
            if _alive(pid) or (group / "cgroup.procs").read_text().strip():
                continue
            group.rmdir()
            removed += 1
        except (ValueError, OSError):
            continue
    return removed


def find_hierarchy(root: Path = _ROOT) -> tuple[Hierarchy | None, str]:
    """The writable hierarchy with memory, pids and cpu control, or ``None`` and why not."""
    controllers = root / "cgroup.controllers"
    if controllers.is_file():
        have = set(controllers.read_text().split())
        missing = {"memory", "pids", "cpu"} - have
        if missing:
            return None, f"cgroup v2 without the {', '.join(sorted(missing))} controller(s)"
        parent = root / "grace"
        if not _writable(parent):
            return None, f"cgroup v2 at {root} is not writable by this user"
        try:
            (root / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
        except OSError as exc:
            return None, f"cannot delegate controllers under {parent}: {exc.strerror}"
        sweep(parent)
        return Hierarchy(2, {"unified": parent}), ""
    parents = {}
    for name in _V1_CONTROLLERS:
        mount = root / name
        if not (mount / "cgroup.procs").is_file():
            return None, f"no cgroup v1 {name} controller mounted at {mount}"
        if not _writable(mount / "grace"):
            return None, f"cgroup v1 {name} controller at {mount} is not writable by this user"
        parents[name] = mount / "grace"
        sweep(parents[name])
    return Hierarchy(1, parents), ""


class RunGroup:
    """One run's control group(s), created with limits and removed after the run."""

    def __init__(self, hierarchy: Hierarchy, limits: CgroupLimits) -> None:
        self.hierarchy = hierarchy
        self.limits = limits
        name = f"run-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        # Joining a CPU group costs about 10 ms per start (group scheduling),
        # so a run enters one only when it asks for a CPU share.
        self.dirs = {
            c: parent / name
            for c, parent in hierarchy.parents.items()
            if c != "cpu" or limits.cpu_share is not None
        }
        for path in self.dirs.values():
            path.mkdir()
        try:
            self._apply()
        except OSError:
            self.remove()
            raise

    def _write(self, controller: str, name: str, value: str) -> None:
        (self.dirs[controller] / name).write_text(value)

    def _apply(self) -> None:
        mem, pids, share = self.limits.memory_bytes, self.limits.pids, self.limits.cpu_share
        period = 100_000
        quota = None if share is None else max(int(share * period), 1000)
        if self.hierarchy.version == 2:
            self._write("unified", "memory.max", str(mem))
            self._write("unified", "memory.swap.max", "0")
            self._write("unified", "pids.max", str(pids))
            if quota is not None:
                self._write("unified", "cpu.max", f"{quota} {period}")
            return
        self._write("memory", "memory.limit_in_bytes", str(mem))
        with contextlib.suppress(OSError):  # only when swap accounting is on
            self._write("memory", "memory.memsw.limit_in_bytes", str(mem))
        self._write("pids", "pids.max", str(pids))
        if quota is not None:
            self._write("cpu", "cpu.cfs_period_us", str(period))
            self._write("cpu", "cpu.cfs_quota_us", str(quota))

    @property
    def procs_files(self) -> list[str]:
        """The files the launcher writes ``0`` into to join every controller."""
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def _read_keyed(self, controller: str, name: str, key: str) -> int:
        try:
            text = (self.dirs[controller] / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
        return 0

    def _read_int(self, controller: str, name: str) -> int:
        try:
            return int((self.dirs[controller] / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def oom_kills(self) -> int:
        if self.hierarchy.version == 2:
            return self._read_keyed("unified", "memory.events", "oom_kill")
        return self._read_keyed("memory", "memory.oom_control", "oom_kill")

    def fork_refusals(self) -> int:
        ctl = "unified" if self.hierarchy.version == 2 else "pids"
        return self._read_keyed(ctl, "pids.events", "max")

    def peak_memory(self) -> int:
        if self.hierarchy.version == 2:
            return self._read_int("unified", "memory.peak")
        return self._read_int("memory", "memory.max_usage_in_bytes")

    def pids(self) -> list[int]:
        ctl = "unified" if self.hierarchy.version == 2 else "pids"
        try:
            text = (self.dirs[ctl] / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill_all(self, *, wait: float = 2.0) -> None:
        """SIGKILL every process in the group, including ones that left the session."""
        deadline = time.monotonic() + wait
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        self.kill_all()
        for path in self.dirs.values():
            for _ in range(100):  # the kernel frees the group shortly after the last exit
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
