"""Fixtures shared by Hunter's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from grace_kernel.hunter import RuleRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> RuleRegistry:
    """The shipped secret and text rule packs (no Python checks)."""
    reg = RuleRegistry()
    reg.load_pack(ROOT / "data" / "hunter" / "secrets.yaml")
    reg.load_pack(ROOT / "data" / "hunter" / "text.yaml")
    return reg
