"""Write the read-only Voila dashboards in this directory (run it after changing one).

Each is one short code cell: it builds a read-only view of the workspace
(GRACE_HOME, else the nearest .grace, as every `grace` command) and lays out
widgets from grace_widgets.  `grace dashboard NAME` serves them.  The knowledge
dashboard, which writes through the governed path, is written by hand.

    python notebooks/dashboards/make_dashboards.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

PRELUDE = """\
import os
from pathlib import Path

from grace_widgets import Dashboard, view_from_env
from grace_widgets import panels as p

view = view_from_env(os.environ, cwd=Path.cwd())
"""

LAYOUTS = {
    "security": (
        "Security",
        "Alerts Hunter raised from scans and blocked actions: by severity over time, by rule, "
        "the files with the most, and the open ones.",
        """\
Dashboard(
    "Security",
    [
        [p.AlertTimeline(view), p.AlertsByRule(view)],
        [p.TopFiles(view)],
        [p.AlertTable(view, state="open")],
    ],
    view=view,
)""",
    ),
    "governance": (
        "Governance",
        "Every governed decision (allow, approval, deny) over time, the requests waiting for "
        "a person, what was decided, and which policies deny most.",
        """\
Dashboard(
    "Governance",
    [
        [p.DecisionTimeline(view), p.DenialsByPolicy(view)],
        [p.PendingApprovals(view)],
        [p.ApprovalHistory(view)],
    ],
    view=view,
)""",
    ),
    "verification": (
        "Verification",
        "The ledger's growth and signed checkpoints, the verification history (the "
        "workspace's and this page's), and the provenance of recent governed notebook runs.",
        """\
Dashboard(
    "Verification",
    [
        [p.LedgerGrowth(view), p.Checkpoints(view)],
        [p.Verification(view)],
        [p.RecentRuns(view)],
    ],
    view=view,
)""",
    ),
    "health": (
        "Health",
        "Each component checked now, the incidents the supervisor opened and healed, "
        "and how long recovery took.",
        """\
Dashboard(
    "Health",
    [
        [p.Components(view)],
        [p.Incidents(view)],
        [p.RecoveryTimes(view)],
    ],
    view=view,
)""",
    ),
}


def notebook(intro: str, layout: str) -> dict[str, object]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "markdown",
                "id": "intro",
                "metadata": {},
                "source": intro,
            },
            {
                "cell_type": "code",
                "id": "dashboard",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": PRELUDE + "\n" + layout,
            },
        ],
    }


def main() -> None:
    for name, (_title, intro, layout) in LAYOUTS.items():
        text = json.dumps(notebook(intro, layout), indent=1, ensure_ascii=False) + "\n"
        (HERE / f"{name}.ipynb").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
