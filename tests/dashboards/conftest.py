"""Workspaces for the dashboard tests: one seeded through the real APIs, and an empty one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from grace_widgets import WorkspaceView
from grace_widgets.demo import SeedSummary, seed

from grace_kernel.config import Settings
from grace_kernel.workspace import Workspace


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> SeedSummary:
    """A workspace seeded once per session (alerts, decisions, approvals, a run, an incident).

    Tests that add records use :func:`fresh` instead, so this one stays as seeded.
    """
    return seed(tmp_path_factory.mktemp("seeded") / ".grace")


@pytest.fixture
def fresh(tmp_path: Path) -> SeedSummary:
    """A workspace of this test's own, seeded without the notebook run."""
    return seed(tmp_path / ".grace", run=False)


@pytest.fixture
def writer(fresh: SeedSummary) -> Iterator[Workspace]:
    """The trusted side of :func:`fresh`: what adds records while a dashboard watches."""
    with Workspace.open(Settings(home=fresh.home, checkpoint_interval=0.0), create=False) as ws:
        yield ws


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    """A workspace directory that does not exist (nobody ran ``grace init``)."""
    return tmp_path / "nothing-here" / ".grace"


def view_of(summary: SeedSummary) -> WorkspaceView:
    return WorkspaceView.at(summary.home)
