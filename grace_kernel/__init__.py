"""Grace: a governed, Jupyter-native research workbench.

Import what you need from the subsystems (``grace_kernel.ledger``, ...) or open
a workspace::

    from grace_kernel import Settings, Workspace
    with Workspace.open(Settings.from_env(os.environ, cwd=Path.cwd())) as ws:
        ws.attest([Path("results.csv")])

Importing this package has no side effects.
"""

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError
from grace_kernel.workspace import Workspace

__version__ = "0.1.0"

__all__ = ["GraceError", "Settings", "Workspace", "__version__"]
