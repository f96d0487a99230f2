"""Typed, bounded settings, built once at the edge and passed down.

Library code never reads ``os.environ``: the CLI, the kernel extension and the
server extension call :meth:`Settings.from_env` (or build :class:`Settings`
directly) and hand the result to what they open.  Every numeric default is also
a hard limit: values outside the bounds are refused, not clamped.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args

from grace_kernel.errors import ConfigError

__all__ = ["Settings", "SyncMode", "find_home"]

SyncMode = Literal["normal", "full"]

WORKSPACE_DIRNAME = ".grace"

_BOUNDS: dict[str, tuple[float, float]] = {
    "checkpoint_every": (1, 1_000_000),
    "checkpoint_interval": (0.0, 86_400.0),
    "approval_ttl": (1.0, 7 * 86_400.0),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything Grace's lower layers need to know, and nothing they may look up.

    home
        The workspace directory (normally ``<jupyter root>/.grace``).
    checkpoint_every
        Write a signed checkpoint after this many new records (1..1,000,000).
    checkpoint_interval
        ...or when this many seconds have passed since the last one and new
        records exist (0 disables the timer; at most one day).
    sync
        ``"normal"``: an acknowledged record survives the process being killed
        (SQLite WAL, synchronous=NORMAL).  ``"full"``: it also survives power
        loss or an OS crash (synchronous=FULL, an fsync per commit).
    policy_dir
        The seeded policies (``grace.cedarschema`` + ``*.cedar``); ``None``
        means the ones shipped with Grace.  Workspace additions always come
        from ``<home>/policies``.
    approval_ttl
        Seconds an approval request waits before it expires (denied).
    guard_writable
        Directories outside the workspace that code in a Grace kernel may
        write (the runtime guard refuses every other write outside it); the
        system temporary directory is always one.
    """

    home: Path
    checkpoint_every: int = 1000
    checkpoint_interval: float = 60.0
    sync: SyncMode = "normal"
    policy_dir: Path | None = None
    approval_ttl: float = 900.0
    guard_writable: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.home, Path):
            raise ConfigError(f"home must be a path, got {type(self.home).__name__}")
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise ConfigError(f"{name}={value} is outside its bounds [{low:g}, {high:g}]")
        if isinstance(self.checkpoint_every, float):
            raise ConfigError(
                f"checkpoint_every must be a whole number, got {self.checkpoint_every}"
            )
        if not all(isinstance(p, Path) and p.is_absolute() for p in self.guard_writable):
            raise ConfigError("guard_writable must be a tuple of absolute paths")
        if self.sync not in get_args(SyncMode):
            raise ConfigError(f"sync must be one of {get_args(SyncMode)}, got {self.sync!r}")

    @property
    def db_path(self) -> Path:
        return self.home / "grace.db"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def witness_path(self) -> Path:
        return self.home / "witness" / "checkpoint"

    @property
    def override_policy_dir(self) -> Path:
        return self.home / "policies"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, cwd: Path) -> Settings:
        """Build settings from ``GRACE_*`` variables; only edges call this.

        ``GRACE_HOME`` names the workspace directory; without it the nearest
        ``.grace`` directory at or above ``cwd`` is used, else ``cwd/.grace``.
        ``GRACE_CHECKPOINT_EVERY``, ``GRACE_CHECKPOINT_INTERVAL``,
        ``GRACE_SYNC``, ``GRACE_POLICY_DIR``, ``GRACE_APPROVAL_TTL`` and
        ``GRACE_GUARD_WRITABLE`` (directories joined with ``os.pathsep``)
        override the defaults.
        """
        home_var = environ.get("GRACE_HOME", "").strip()
        home = Path(home_var).expanduser().absolute() if home_var else find_home(cwd)
        fields: dict[str, object] = {"home": home}
        if "GRACE_CHECKPOINT_EVERY" in environ:
            fields["checkpoint_every"] = _parse_int(
                "GRACE_CHECKPOINT_EVERY", environ["GRACE_CHECKPOINT_EVERY"]
            )
        if "GRACE_CHECKPOINT_INTERVAL" in environ:
            fields["checkpoint_interval"] = _parse_float(
                "GRACE_CHECKPOINT_INTERVAL", environ["GRACE_CHECKPOINT_INTERVAL"]
            )
        if "GRACE_SYNC" in environ:
            fields["sync"] = environ["GRACE_SYNC"].strip().lower()
        if environ.get("GRACE_POLICY_DIR", "").strip():
            fields["policy_dir"] = Path(environ["GRACE_POLICY_DIR"].strip()).expanduser().absolute()
        if "GRACE_APPROVAL_TTL" in environ:
            fields["approval_ttl"] = _parse_float(
                "GRACE_APPROVAL_TTL", environ["GRACE_APPROVAL_TTL"]
            )
        writable = [w.strip() for w in environ.get("GRACE_GUARD_WRITABLE", "").split(os.pathsep)]
        fields["guard_writable"] = tuple(Path(w).expanduser().absolute() for w in writable if w)
        return cls(**fields)  # type: ignore[arg-type]  # validated in __post_init__


def find_home(cwd: Path) -> Path:
    """The nearest ``.grace`` directory at or above ``cwd``, else ``cwd/.grace``."""
    start = cwd.absolute()
    for directory in (start, *start.parents):
        candidate = directory / WORKSPACE_DIRNAME
        if candidate.is_dir():
            return candidate
    return start / WORKSPACE_DIRNAME


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
