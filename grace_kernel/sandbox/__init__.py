"""The sandbox: layered OS-level isolation for untrusted code (docs/sandbox.md).

- :func:`probe` — which layers (process limits, seccomp, Landlock, bubblewrap,
  cgroups) really work on this machine, as an :class:`IsolationReport`;
- :func:`run` — run a :class:`SandboxSpec` inside them, giving a
  :class:`SandboxResult`.
"""

from grace_kernel.sandbox._probe import LAYERS, IsolationReport, LayerStatus, probe
from grace_kernel.sandbox._run import (
    Limits,
    NetMode,
    SandboxError,
    SandboxResult,
    SandboxSpec,
    WrittenFile,
    parse_size,
    run,
)

__all__ = [
    "LAYERS",
    "IsolationReport",
    "LayerStatus",
    "Limits",
    "NetMode",
    "SandboxError",
    "SandboxResult",
    "SandboxSpec",
    "WrittenFile",
    "parse_size",
    "probe",
    "run",
]
