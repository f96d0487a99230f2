"""Shared set-up for the server tests: each server gets its own workspace."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def grace_home(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GRACE_HOME under the server's root, set before the server (and Grace) starts."""
    home = jp_root_dir / ".grace"
    monkeypatch.setenv("GRACE_HOME", str(home))
    monkeypatch.setenv("GRACE_CHECKPOINT_INTERVAL", "0")
    return home
