"""Suite-wide set-up: every test run, notebooks included, gets a throwaway workspace.

nbmake starts real kernels that inherit this process's environment, so
setting GRACE_HOME here keeps notebook runs out of any developer's own
``.grace`` directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_HOME: list[Path] = []


def pytest_configure() -> None:
    home = Path(tempfile.mkdtemp(prefix="grace-test-home-"))
    _HOME.append(home)
    os.environ["GRACE_HOME"] = str(home / ".grace")


def pytest_unconfigure() -> None:
    for home in _HOME:
        shutil.rmtree(home, ignore_errors=True)
