"""The languages the sandbox runs: Python, bash and node (where installed).

A :class:`Language` says which program runs a source file and what that
program needs to see: its own files (an interpreter's prefix and import path,
bound read-only under bubblewrap and readable under Landlock) and what it may
execute (Landlock).  Python may execute only its interpreter; bash is a
shell, so it may execute the system's programs (still under every other
layer); node may execute only itself.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from grace_kernel.errors import InputError
from grace_kernel.sandbox._run import SandboxError

__all__ = ["LANGUAGES", "Language", "language"]

LANGUAGES = ("python", "bash", "node")

_SYSTEM_PROGRAMS = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/lib", "/lib")


@dataclasses.dataclass(frozen=True)
class Language:
    name: str
    program: Path
    suffix: str
    bind: tuple[Path, ...]
    execute: tuple[Path, ...]

    def argv(self, script: str) -> tuple[str, ...]:
        return (str(self.program), script)


@functools.lru_cache(maxsize=8)
def _python_paths(interpreter: str) -> tuple[Path, ...]:
    """The prefixes and import path of a Python interpreter (asked once, then cached)."""
    if os.path.realpath(interpreter) == os.path.realpath(sys.executable):
        entries = [sys.prefix, sys.base_prefix, *sys.path]
    else:
        ask = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, *sys.path]))"
        try:
            out = subprocess.run(
                [interpreter, "-c", ask], capture_output=True, timeout=30, check=True
            )
            entries = json.loads(out.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise SandboxError(f"{interpreter} does not run Python here: {exc}") from None
    found = {Path(os.path.realpath(e)) for e in entries if e and Path(e).is_absolute()}
    return tuple(sorted(p for p in found if p.exists()))


def language(name: str, *, python: str | None = None) -> Language:
    """The :class:`Language` called ``name``; a clear error when it is not installed."""
    if name == "python":
        interpreter = python or sys.executable
        if not os.access(interpreter, os.X_OK):
            raise InputError(f"{interpreter}: not an executable Python interpreter")
        program = Path(interpreter).absolute()
        return Language("python", program, ".py", _python_paths(str(program)), (program,))
    if name == "bash":
        bash = shutil.which("bash", path="/usr/bin:/bin")
        if bash is None:
            raise SandboxError("bash is not installed on this machine")
        programs = tuple(Path(p) for p in _SYSTEM_PROGRAMS if Path(p).is_dir())
        return Language("bash", Path(bash), ".sh", (), programs)
    if name == "node":
        node = shutil.which("node")
        if node is None:
            raise SandboxError(
                "node is not installed on this machine, so --lang node cannot run",
                hint="install Node.js (e.g. apt-get install nodejs), or use python or bash",
            )
        real = Path(os.path.realpath(node))
        return Language("node", real, ".js", (real.parent.parent,), (real,))
    raise InputError(f"unknown language {name!r}: choose one of {', '.join(LANGUAGES)}")
