"""``grace scan`` and ``grace alerts`` as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]

RISKY = """\
import subprocess
import yaml


def load(path):
    with open(path) as handle:
        return yaml.load(handle)


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""


def grace(
    home: Path, *args: str, cwd: Path, code: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRACE_HOME": str(home)}
    done = subprocess.run(
        [*GRACE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )
    if code is not None:
        assert done.returncode == code, (done.stdout, done.stderr)
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "risky.py").write_text(RISKY, encoding="utf-8")
    (root / "clean.py").write_text("print('hello')\n", encoding="utf-8")
    return root


def scan_json(project: Path, *args: str, code: int) -> Any:
    done = grace(project / ".grace", "scan", *args, "--json", cwd=project, code=code)
    return json.loads(done.stdout)


def test_findings_exit_1_and_clean_exit_0(project: Path) -> None:
    report = scan_json(project, "risky.py", code=1)
    assert report["ok"] is False
    assert {f["file"] for f in report["findings"]} == {"risky.py"}
    categories = {f["category"] for f in report["findings"]}
    assert {"deserialization", "injection"} <= categories
    clean = scan_json(project, "clean.py", code=0)
    assert clean == {**clean, "ok": True, "findings": []}


def test_min_severity_filters_what_fails(project: Path) -> None:
    everything = scan_json(project, "risky.py", code=1)["findings"]
    critical = scan_json(project, "risky.py", "--min-severity", "critical", code=0)["findings"]
    assert everything
    assert critical == []


def test_sarif_is_a_2_1_0_log_with_rules_and_locations(project: Path) -> None:
    done = grace(project / ".grace", "scan", "risky.py", "--sarif", cwd=project, code=1)
    log = json.loads(done.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert run["results"]
    for result in run["results"]:
        assert result["ruleId"] in rules
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
        assert result["partialFingerprints"]["graceFingerprint/v1"]


def test_baseline_is_written_once_then_hides_only_known_findings(project: Path) -> None:
    baseline = project / "hunter-baseline.json"
    first = scan_json(project, "risky.py", "--baseline", str(baseline), code=0)
    assert baseline.exists()
    assert first["baselined"] >= 2
    # an unrelated edit moves lines: the baseline still matches (fingerprints ignore lines)
    source = (project / "risky.py").read_text()
    (project / "risky.py").write_text("# a new header line\n\n" + source, encoding="utf-8")
    assert scan_json(project, "risky.py", "--baseline", str(baseline), code=0)["findings"] == []
    (project / "risky.py").write_text(
        "# a new header line\n\n" + source + "\nexec(input())\n", encoding="utf-8"
    )
    new = scan_json(project, "risky.py", "--baseline", str(baseline), code=1)["findings"]
    assert [f["line"] for f in new] == [source.count("\n") + 4]


def test_diff_shows_fixes_and_fix_applies_them_with_a_backup(project: Path) -> None:
    before = (project / "risky.py").read_bytes()
    diff = scan_json(project, "risky.py", "--diff", code=1)["changes"][0]
    assert "-        return yaml.load(handle)" in diff
    assert "safe_load" in diff
    assert (project / "risky.py").read_bytes() == before  # --diff changes nothing
    grace(project / ".grace", "init", cwd=project, code=0)
    fixed = scan_json(project, "risky.py", "--fix", code=1)
    assert "original saved as" in fixed["changes"][0]
    backup = Path(fixed["changes"][0].rsplit("original saved as ", 1)[1])
    assert backup.read_bytes() == before
    after = (project / "risky.py").read_text()
    assert "yaml.safe_load(handle)" in after
    compile(after, "risky.py", "exec")
    remaining = {f["rule_id"] for f in scan_json(project, "risky.py", code=1)["findings"]}
    assert not any(f["fix"] for f in scan_json(project, "risky.py", code=1)["findings"])
    assert remaining  # what has no automatic fix is still reported


def test_cache_makes_the_second_scan_read_no_file_twice(project: Path) -> None:
    grace(project / ".grace", "init", cwd=project, code=0)
    first = scan_json(project, ".", "--jobs", "2", code=1)
    assert (project / ".grace" / "hunter-cache.db").exists()
    second = scan_json(project, ".", "--jobs", "2", code=1)
    assert second["findings"] == first["findings"]
    uncached = scan_json(project, ".", "--no-cache", code=1)
    assert uncached["findings"] == first["findings"]


def test_bad_arguments_are_clear(project: Path) -> None:
    done = grace(project / ".grace", "scan", "risky.py", "--sarif", "--json", cwd=project, code=2)
    assert "choose one" in json.loads(done.stdout)["error"]["message"]
    done = grace(project / ".grace", "scan", "risky.py", "--fix", "--diff", cwd=project, code=2)
    assert "choose one" in done.stderr
    missing = scan_json(project, "nope.py", code=0)
    assert "nope.py: no such file or directory" in missing["notes"]


def test_alerts_cli_lists_and_moves_a_governance_alert(project: Path) -> None:
    home = project / ".grace"
    grace(home, "init", cwd=project, code=0)
    code = (
        "from pathlib import Path\n"
        "from grace_kernel import Settings, Workspace\n"
        "from grace_kernel.governance import Action, ActionKind, Principal, path_facts\n"
        f"root = Path({str(project)!r})\n"
        f"with Workspace.open(Settings(home=Path({str(home)!r}))) as ws:\n"
        "    ws.governance.govern(Action(kind=ActionKind.FILE_DELETE,"
        " principal=Principal.user('alice'), resource='/etc/hosts',"
        " facts=path_facts('/etc/hosts', workspace=root)))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    listed = json.loads(grace(home, "alerts", "list", "--json", cwd=project, code=0).stdout)
    assert len(listed) == 1
    alert_id = listed[0]["id"]
    assert listed[0]["source"] == "governance"
    shown = grace(home, "alerts", "show", alert_id, cwd=project, code=0).stdout
    assert "files-write-outside-deny" in shown
    grace(home, "alerts", "ack", alert_id, cwd=project, code=0)
    moved = json.loads(
        grace(
            home,
            "alerts",
            "false-positive",
            alert_id,
            "--reason",
            "drill",
            "--json",
            cwd=project,
            code=0,
        ).stdout
    )
    assert moved["state"] == "false-positive"
    assert moved["note"] == "drill"
    grace(home, "alerts", "resolve", alert_id, cwd=project, code=2)  # already closed
    assert json.loads(grace(home, "verify", "--json", cwd=project, code=0).stdout)["ok"] is True


def test_fixes_reach_notebook_cells_with_a_backup(project: Path) -> None:
    def cell(source: str) -> dict[str, Any]:
        lines = source.splitlines(keepends=True)
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": lines,
        }

    doc = {
        "cells": [cell("import yaml\nconfig = yaml.load(open('c.yml'))\n"), cell("!ls\n")],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = project / "analysis.ipynb"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    before = path.read_bytes()
    diff = scan_json(project, "analysis.ipynb", "--diff", code=1)["changes"][0]
    assert "analysis.ipynb cell 0" in diff
    assert "+config = yaml.safe_load(open('c.yml'))" in diff
    assert path.read_bytes() == before
    grace(project / ".grace", "init", cwd=project, code=0)
    fixed = scan_json(project, "analysis.ipynb", "--fix", code=1)
    backup = Path(fixed["changes"][0].rsplit("original saved as ", 1)[1])
    assert backup.read_bytes() == before
    after = json.loads(path.read_text(encoding="utf-8"))
    assert "".join(after["cells"][0]["source"]) == (
        "import yaml\nconfig = yaml.safe_load(open('c.yml'))\n"
    )
    assert "".join(after["cells"][1]["source"]) == "!ls\n"  # IPython syntax: left alone
    assert after["nbformat"] == 4


def test_fix_on_an_undecodable_file_is_a_named_error_not_a_traceback(project: Path) -> None:
    path = project / "legacy.py"
    path.write_bytes(b"import yaml\n# caf\xe9\nconfig = yaml.load(open('c.yml'))\n")
    before = path.read_bytes()
    grace(project / ".grace", "init", cwd=project, code=0)
    done = grace(project / ".grace", "scan", "legacy.py", "--fix", cwd=project, code=2)
    assert "legacy.py: cannot apply fixes to it" in done.stderr
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == before
