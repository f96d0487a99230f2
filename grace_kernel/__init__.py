"""Grace: a governed, Jupyter-native research workbench.

Import what you need from the subsystems (``grace_kernel.ledger``, ...) or open
a workspace::

    from grace_kernel import Settings, Workspace
    with Workspace.open(Settings.from_env(os.environ, cwd=Path.cwd())) as ws:
        ws.attest([Path("results.csv")])

Importing this package has no side effects, and the names below load lazily,
so ``import grace_kernel.ledger`` does not pull in the policy engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "GraceError",
    "Settings",
    "Workspace",
    "__version__",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LAZY = {
    "GraceError": "grace_kernel.errors",
    "Settings": "grace_kernel.config",
    "Workspace": "grace_kernel.workspace",
}

if TYPE_CHECKING:
    from grace_kernel.config import Settings
    from grace_kernel.errors import GraceError
    from grace_kernel.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'grace_kernel' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext grace_kernel``: the gate, the runtime guard and the ``%grace`` magics."""
    from grace_kernel.kernel import load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    from grace_kernel.kernel import unload

    unload(shell)
