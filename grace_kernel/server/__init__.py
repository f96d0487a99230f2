"""Grace's jupyter_server extension: the trusted side of JupyterLab (DESIGN.md §1).

Enabled on install (``etc/jupyter/jupyter_server_config.d/grace_kernel.json``).
At load it opens the workspace at the server's root directory, swaps in
:class:`~grace_kernel.server._connection.GraceWebsocketConnection` as the
kernel websocket connection class, and starts kernels as supervised (they
check again but never sign) and, for untrusted notebooks, in the OS sandbox
(``c.GraceServer.sandbox_kernels``, see ``_sandboxing``).  The server's own
shutdown closes the workspace (``close_all`` of the connection class).  If the workspace cannot be
opened, the connection class is still installed and refuses every cell.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "grace_kernel.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from grace_kernel.server._extension import load

    load(serverapp)
