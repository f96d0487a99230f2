"""Shared set-up for the sandbox tests: the machine's real isolation report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grace_kernel.sandbox import IsolationReport, probe
from grace_kernel.sandbox._probe import LAYERS

SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="session")
def report() -> IsolationReport:
    return probe()


def interpreter_for(level: int, report: IsolationReport) -> str:
    """A Python the sandbox user can run at ``level``.

    Below the bubblewrap layer nothing is bound in, so when root drops to
    ``nobody`` an interpreter under a private home (``/root/.pyenv``) is out of
    reach; the system's Python is used there instead.
    """
    layers = [name for name in LAYERS[:level] if report.active(name)]
    if report.uid is None or "bubblewrap" in layers:
        return sys.executable
    probe_path = Path(sys.executable).resolve()
    if all(p.stat().st_mode & 0o001 for p in probe_path.parents):
        return sys.executable
    if Path(SYSTEM_PYTHON).exists():
        return SYSTEM_PYTHON
    pytest.skip(f"no Python reachable by {report.user} without bubblewrap")
    raise AssertionError  # unreachable: skip raises
