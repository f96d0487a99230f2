"""Dashboard widgets for Grace, and the Voila apps built from them.

- :class:`WorkspaceView` — read-only access to one workspace (never the signing key);
- the widgets in :mod:`grace_widgets.panels` (alerts, decisions, approvals,
  ledger growth, checkpoints, verification, runs, components, incidents, recovery);
- :class:`Panel` (refresh in place), :class:`RefreshBar` (button and browser-side
  timer), :class:`Ticker`, :class:`Dashboard` (a page of panels);
- :func:`dashboard_path` / :data:`DASHBOARDS` — the shipped Voila notebooks
  (``grace dashboard NAME`` serves them);
- :mod:`grace_widgets.demo` — ``seed(home)`` fills a workspace through the real APIs.

See docs/dashboards.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from grace_kernel.config import Settings
from grace_kernel.errors import GraceEnvironmentError
from grace_widgets._layout import Dashboard
from grace_widgets._source import CheckpointInfo, Record, VerificationRun, WorkspaceView
from grace_widgets._ui import Panel, RefreshBar, Ticker

__all__ = [
    "DASHBOARDS",
    "CheckpointInfo",
    "Dashboard",
    "Panel",
    "Record",
    "RefreshBar",
    "Ticker",
    "VerificationRun",
    "WorkspaceView",
    "dashboard_path",
    "dashboards_dir",
    "view_from_env",
]

# name -> what it shows (the notebook is <name>.ipynb)
DASHBOARDS = {
    "security": "alerts by severity and rule over time, top files, open alerts",
    "governance": "decisions over time, pending approvals, denials by policy",
    "verification": "ledger growth, checkpoints, verification history, provenance of runs",
    "health": "components, incidents, recovery times",
    # The one that writes: submissions and reviews go through the governed path as you.
    "knowledge": "submit files and pages for ingestion, review pending knowledge",
}

_HERE = Path(__file__).resolve().parent


def dashboards_dir() -> Path:
    """The Voila notebooks: ``grace_widgets/_dashboards`` in a wheel (package data),
    ``notebooks/dashboards`` in a checkout or an editable install."""
    for candidate in (_HERE / "_dashboards", _HERE.parent.parent / "notebooks" / "dashboards"):
        if all((candidate / f"{name}.ipynb").is_file() for name in DASHBOARDS):
            return candidate
    raise GraceEnvironmentError(
        "Grace's dashboard notebooks are missing from this installation",
        hint="reinstall Grace (the wheel ships them in grace_widgets/_dashboards)",
    )


def dashboard_path(name: str) -> Path:
    """The notebook of dashboard ``name`` (one of :data:`DASHBOARDS`)."""
    from grace_kernel.errors import InputError

    if name not in DASHBOARDS:
        raise InputError(f"no dashboard {name!r}", hint=f"choose one of: {', '.join(DASHBOARDS)}")
    return dashboards_dir() / f"{name}.ipynb"


def view_from_env(environ: Mapping[str, str], *, cwd: Path) -> WorkspaceView:
    """The workspace a notebook (an edge) should show: ``GRACE_HOME``, else the nearest
    ``.grace`` at or above ``cwd`` (what every ``grace`` command uses)."""
    return WorkspaceView(Settings.from_env(environ, cwd=cwd))
