"""The dashboards run under nbmake against a seeded workspace.

The suite's root conftest points GRACE_HOME at an empty throwaway workspace;
here, before each dashboard's kernel starts (nbmake kernels inherit
``os.environ``), GRACE_HOME points at a workspace filled once per session by
``grace_widgets.demo.seed`` through the real APIs, and is put back after.
tests/dashboards runs the same notebooks against an empty workspace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SEEDED: list[Path] = []


def _seeded_home() -> Path:
    if not _SEEDED:
        from grace_widgets.demo import seed

        root = Path(tempfile.mkdtemp(prefix="grace-dashboards-"))
        seed(root / ".grace")
        _SEEDED.append(root)
    return _SEEDED[0] / ".grace"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.path.suffix == ".ipynb":
        item.stash[_STASH] = os.environ.get("GRACE_HOME")
        os.environ["GRACE_HOME"] = str(_seeded_home())


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if item.path.suffix == ".ipynb" and _STASH in item.stash:
        previous = item.stash[_STASH]
        if previous is None:
            os.environ.pop("GRACE_HOME", None)
        else:
            os.environ["GRACE_HOME"] = previous


def pytest_unconfigure() -> None:
    for root in _SEEDED:
        shutil.rmtree(root, ignore_errors=True)


_STASH = pytest.StashKey[str | None]()
