"""``grace run`` and ``grace install`` refuse bad input with a diagnosis (no kernel starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]


def grace(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRACE_HOME": str(home)}
    return subprocess.run(
        [*GRACE, *args], capture_output=True, text=True, env=env, cwd=home.parent, timeout=60
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "project" / ".grace"
    path.parent.mkdir()
    assert grace(path, "init").returncode == 0
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such notebook"),
        ("{not json", "is not a Jupyter notebook"),
        ('{"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "notebook"),
    ],
)
def test_run_refuses_missing_and_malformed_notebooks(
    home: Path, content: str | None, message: str
) -> None:
    path = home.parent / "input.ipynb"
    if content is not None:
        path.write_text(content)
    done = grace(home, "run", str(path), "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    assert message in error["message"]


def test_run_refuses_to_overwrite_its_input_and_resume_of_a_foreign_notebook(home: Path) -> None:
    path = home.parent / "input.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    done = grace(home, "run", str(path), str(path))
    assert done.returncode == 2
    assert "must not overwrite the input" in done.stderr
    done = grace(home, "run", "--resume", str(path))
    assert done.returncode == 2
    assert "not written by a Grace run" in done.stderr
    done = grace(home, "run", str(path), "--timeout", "0")
    assert done.returncode == 2


def test_install_writes_a_kernelspec_that_runs_this_python(home: Path, tmp_path: Path) -> None:
    done = grace(home, "install", "--prefix", str(tmp_path / "prefix"), "--json")
    assert done.returncode == 0, done.stderr
    where = Path(json.loads(done.stdout)["path"])
    spec = json.loads((where / "kernel.json").read_text())
    assert spec["argv"][:3] == [sys.executable, "-m", "grace_kernel.kernel"]
    assert spec["display_name"] == "Python 3 (Grace)"
    assert grace(home, "install", "--user", "--prefix", "x").returncode == 2
