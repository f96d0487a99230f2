"""``grace dashboard`` (everything short of serving: tests/browser serves it), the shipped
notebooks on an empty workspace, and the notebooks inside a built wheel."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from grace_widgets import DASHBOARDS, dashboard_path, dashboards_dir
from nbclient import NotebookClient

from grace_kernel.cli._dashboard import voila_argv

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]
REPO = Path(__file__).resolve().parents[2]


def grace(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GRACE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GRACE_HOME": str(home)},
        timeout=60,
    )


def test_list_names_every_dashboard_and_its_notebook(tmp_path: Path) -> None:
    done = grace(tmp_path / ".grace", "dashboard", "--list", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [d["name"] for d in listed] == list(DASHBOARDS)
    for entry in listed:
        assert Path(entry["notebook"]).is_file()
    human = grace(tmp_path / ".grace", "dashboard", "--list")
    assert all(name in human.stdout for name in DASHBOARDS)


def test_an_unknown_dashboard_is_bad_input(tmp_path: Path) -> None:
    done = grace(tmp_path / ".grace", "dashboard", "nope", "--no-browser")
    assert done.returncode == 2
    assert "no dashboard 'nope'" in done.stderr
    assert "security" in done.stderr


def test_a_busy_port_is_an_environment_problem_not_a_silent_other_port(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = grace(tmp_path / ".grace", "dashboard", "security", "--port", str(port), "--json")
    assert done.returncode == 4
    assert json.loads(done.stdout)["error"]["message"].startswith(f"port {port}")


def test_voila_is_told_loopback_a_token_and_to_cull_closed_pages() -> None:
    argv = voila_argv("x.ipynb", port=9999, cull_idle=30, cull_interval=5)
    assert argv[1:4] == ["-m", "voila", "x.ipynb"]
    assert {
        "--Voila.ip=127.0.0.1",
        "--Voila.port=9999",
        "--Voila.port_retries=0",
        "--Voila.open_browser=False",
        "--Voila.auto_token=True",
        "--MappingKernelManager.cull_idle_timeout=30",
        "--MappingKernelManager.cull_interval=5",
        "--MappingKernelManager.cull_connected=False",
    } <= set(argv)


def _widget_text(nb: Any) -> str:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return json.dumps(state)


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_each_dashboard_runs_on_a_workspace_that_does_not_exist(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "empty" / ".grace"
    monkeypatch.setenv("GRACE_HOME", str(home))  # the kernel inherits it
    nb = nbformat.read(dashboard_path(name), as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    text = _widget_text(nb)
    if name == "knowledge":  # the one that writes says what to do before it can
        assert "no Grace workspace at" in text
        assert "run `grace init`" in text
    else:
        assert "no workspace at" in text
        assert "grace-empty" in text
    assert not home.exists()


def test_the_wheel_ships_grace_widgets_and_the_dashboards(tmp_path: Path) -> None:
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "-q",
            *isolation,
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("grace_workbench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in DASHBOARDS:
            shipped = archive.read(f"grace_widgets/_dashboards/{name}.ipynb")
            assert shipped == (dashboards_dir() / f"{name}.ipynb").read_bytes()
        archive.extractall(tmp_path / "site")
    assert {
        "grace_widgets/__init__.py",
        "grace_widgets/panels.py",
        "grace_widgets/demo.py",
    } <= names
    assert not any(n.startswith("grace_widgets/_dashboards/") and n.endswith(".py") for n in names)

    # Installed from the wheel, the package finds its own copy of the notebooks.
    probe = "import grace_widgets; print(grace_widgets.dashboard_path('health'))"
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {probe}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == tmp_path / "site/grace_widgets/_dashboards/health.ipynb"
