"""``%grace ask`` in a real Grace kernel: passages with sources, over a read-only connection."""

from __future__ import annotations

from pathlib import Path

from grace_kernel.config import Settings
from grace_kernel.knowledge import KnowledgeBase
from grace_kernel.workspace import Workspace
from tests.kernel.test_extension import Run, grace_kernel, project  # noqa: F401  # fixtures
from tests.knowledge.conftest import ALICE


def test_ask_returns_approved_passages_with_their_source_and_record(
    grace_kernel: Run,  # noqa: F811  # the imported fixture
    project: Path,  # noqa: F811
) -> None:
    out, errors, _ = grace_kernel("%grace ask flange torque")
    assert not errors
    assert "no approved passage matches" in out
    (project / "manual.md").write_text("# Manual\n\n## Flanges\n\nFlange torque is twelve Nm.\n")
    with (
        Workspace.open(Settings(home=project / ".grace", checkpoint_interval=0.0)) as ws,
        KnowledgeBase(ws) as kb,
    ):
        (outcome,) = kb.ingest(["manual.md"], principal=ALICE)
    assert outcome.document is not None
    out, errors, _ = grace_kernel("%grace ask flange torque")
    assert not errors
    assert "1. manual.md > Manual > Flanges  (trust 0.75; record: grace ledger show " in out
    assert f"show {outcome.document.ingest_index})" in out
    assert "| Flange torque is twelve Nm." in out
