"""Hunter's automatic quarantine: off under the seeded policies, on with a workspace policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grace_kernel.governance import DECISION
from grace_kernel.hunter import Finding, Scanner
from grace_kernel.quarantine import quarantine_critical
from tests.governance.conftest import predicates
from tests.quarantine.conftest import CRITICAL, Project

HIGH_ONLY = "import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def _findings(scanner: Scanner, path: Path) -> list[Finding]:
    return scanner.scan_file(path, name=path.name).findings


def test_without_a_workspace_policy_a_critical_finding_quarantines_nothing(
    project: Project, scanner: Scanner
) -> None:
    path = project.write("bad.py", CRITICAL)
    size = project.ledger_size()
    with project.open() as ws:
        assert quarantine_critical(ws, path, _findings(scanner, path)) is None
    assert path.exists()
    assert project.ledger_size() == size  # explain() only: no decision was recorded


def test_with_the_opt_in_policy_hunter_quarantines_critical_files(
    project: Project, scanner: Scanner
) -> None:
    project.opt_in_hunter()
    path = project.write("bad.py", CRITICAL)
    with project.open() as ws:
        entry = quarantine_critical(ws, path, _findings(scanner, path))
        decisions = predicates(ws, DECISION)
    assert entry is not None
    assert not path.exists()
    assert (entry.who, entry.path) == ("service:hunter", "bad.py")
    assert "GRC-PY-079" in entry.why
    [decision] = decisions
    assert decision["effect"] == "allow"
    assert decision["policy_ids"] == ["team-hunter-quarantines-critical"]
    assert decision["action"]["principal"] == {
        "type": "Service",
        "id": "hunter",
        "on_behalf_of": None,
    }


def test_even_opted_in_hunter_leaves_files_without_a_critical_finding(
    project: Project, scanner: Scanner
) -> None:
    project.opt_in_hunter()
    path = project.write("risky.py", HIGH_ONLY)
    findings = _findings(scanner, path)
    assert findings
    with project.open() as ws:
        assert quarantine_critical(ws, path, findings) is None
    assert path.exists()


def test_scan_reports_no_quarantine_under_the_seeded_policies(project: Project) -> None:
    path = project.write("bad.py", CRITICAL)
    size = project.ledger_size()
    report = json.loads(project.grace("scan", "bad.py", "--no-cache", "--json", code=1).stdout)
    assert report["quarantined"] == []
    assert path.exists()
    assert project.ledger_size() == size


def test_scan_quarantines_and_reports_when_the_workspace_opts_in(project: Project) -> None:
    project.opt_in_hunter()
    bad = project.write("bad.py", CRITICAL)
    risky = project.write("risky.py", HIGH_ONLY)
    report = json.loads(project.grace("scan", ".", "--no-cache", "--json", code=1).stdout)
    [entry] = report["quarantined"]
    assert (entry["path"], entry["who"]) == ("bad.py", "service:hunter")
    assert not bad.exists()
    assert risky.exists()
    assert [e["id"] for e in project.grace_json("quarantine", "list")] == [entry["id"]]


def test_scan_text_names_the_quarantined_file_and_diff_changes_nothing(project: Project) -> None:
    project.opt_in_hunter()
    bad = project.write("bad.py", CRITICAL)
    project.grace("scan", "bad.py", "--no-cache", "--diff", code=1)
    assert bad.exists()
    text = project.grace("scan", "bad.py", "--no-cache", code=1).stdout
    assert "quarantined bad.py as q-" in text
    assert not bad.exists()
