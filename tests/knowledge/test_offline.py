"""The knowledge index lets go of the database while health restores it, then carries on."""

from __future__ import annotations

from pathlib import Path

import pytest

from grace_kernel.config import Settings
from grace_kernel.errors import StoreError
from grace_kernel.governance import Principal
from grace_kernel.knowledge import KnowledgeBase
from grace_kernel.workspace import Workspace


def test_store_offline_closes_the_knowledge_index_too(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe ledger is verified offline by anyone.\n")
    with Workspace.open(Settings(home=tmp_path / ".grace")) as ws:
        kb = KnowledgeBase.open(ws)
        try:
            [outcome] = kb.ingest([notes], principal=Principal.user("alice"))
            assert outcome.ok
            with ws.store_offline(), pytest.raises(StoreError, match="offline"):
                kb.list()
            assert [d.id for d in kb.list()] == [outcome.document.id]  # type: ignore[union-attr]
        finally:
            kb.close()
        with ws.store_offline():  # a closed knowledge base is no longer attached
            pass
