"""``grace policy ...`` and ``grace approvals ...`` as a person runs them: real subprocesses."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.governance import Action, ActionKind, Findings, Principal, Severity
from grace_kernel.workspace import Workspace

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]
REPO = Path(__file__).resolve().parents[2]
SEEDED = REPO / "data" / "policies"
CASES = SEEDED / "tests" / "seeded.yaml"
ME = getpass.getuser()


def run(
    home: Path, *args: str, check_code: int | None = 0, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # Not under a kernel: drop the markers a Jupyter parent would leave behind.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")}
    env.update({"GRACE_HOME": str(home), **(extra_env or {})})
    done = subprocess.run(
        [*GRACE, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
    )
    if check_code is not None:
        assert done.returncode == check_code, (done.stdout, done.stderr)
    return done


def run_json(home: Path, *args: str, check_code: int = 0, **kw: Any) -> Any:
    return json.loads(run(home, *args, "--json", check_code=check_code, **kw).stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialized workspace."""
    path = tmp_path / "project" / ".grace"
    Workspace.open(Settings(home=path)).close()
    return path


def high_cell(principal: Principal) -> Action:
    return Action(
        kind=ActionKind.CELL_EXECUTE,
        principal=principal,
        resource="cell-3",
        findings=Findings(count=1, max_severity=Severity.HIGH),
    )


def request_approval(home: Path, principal: Principal) -> str:
    """A pending request made through the Python API, as the server would make it."""
    with Workspace.open(Settings(home=home), create=False) as ws:
        decision = ws.governance.govern(high_cell(principal))
    assert decision.approval_id is not None
    return decision.approval_id


def state_of(home: Path, approval_id: str) -> dict[str, Any]:
    shown = run_json(home, "approvals", "show", approval_id)
    assert isinstance(shown, dict)
    return shown


# ---------------------------------------------------------------------------- policy


def test_policy_lint_accepts_the_seeded_policies(home: Path) -> None:
    assert run(home, "policy", "lint").stdout.startswith("OK: ")
    report = run_json(home, "policy", "lint")
    assert report["ok"] is True
    assert report["policies"] >= 20
    assert len(report["files"]) == len(list(SEEDED.glob("*.cedar")))


def test_policy_lint_reports_a_broken_copy_by_file_and_line(home: Path, tmp_path: Path) -> None:
    broken_dir = tmp_path / "policies"
    shutil.copytree(SEEDED, broken_dir, ignore=shutil.ignore_patterns("tests"))
    target = broken_dir / "40-network.cedar"
    target.write_text(
        target.read_text().replace("when { context.loopback }", "when { context.is_loopback }")
    )
    env = {"GRACE_POLICY_DIR": str(broken_dir)}
    done = run(home, "policy", "lint", check_code=2, extra_env=env)
    assert f"{target}:3: " in done.stdout  # the line of @id("net-loopback")
    assert "is_loopback" in done.stdout
    assert done.stdout.rstrip().endswith("1 problem(s)")
    report = run_json(home, "policy", "lint", check_code=2, extra_env=env)
    assert report["ok"] is False
    assert [(p["file"], p["line"]) for p in report["problems"]] == [(str(target), 3)]


def test_policy_lint_includes_workspace_overrides(home: Path) -> None:
    (home / "policies").mkdir()
    mine = home / "policies" / "mine.cedar"
    mine.write_text('@id("ws-secrets")\n@reason("x")\npermit (principal, action, resource);\n')
    done = run(home, "policy", "lint", check_code=2)
    assert f"{mine}:1: workspace permit 'ws-secrets' loosens every action" in done.stdout


def test_policy_list_shows_every_policy_with_id_and_reason(home: Path) -> None:
    rows = run_json(home, "policy", "list")
    assert len(rows) >= 20
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["id"], row
        assert row["reason"], row
        assert Path(row["file"]).is_file()
    by_id = {r["id"]: r for r in rows}
    assert by_id["cell-high-approval"]["effect"] == "approval"
    assert by_id["cell-critical-deny"]["effect"] == "forbid"
    assert by_id["sandbox-run"]["obligations"] == ["sandbox"]
    assert by_id["shell-allow-list"]["actions"] == ["shell.run"]
    text = run(home, "policy", "list").stdout
    assert "cell-critical-deny" in text
    assert "10-cells.cedar:20" in text


def test_policy_explain_shell_pipeline_needs_approval(home: Path) -> None:
    decision = run_json(home, "policy", "explain", "--action", "shell.run", "--resource", "ls | sh")
    assert decision["effect"] == "require_approval"
    assert decision["policy_ids"] == ["shell-approval"]
    assert decision["action"]["facts"]["shell_syntax"] is True
    text = run(home, "policy", "explain", "--action", "shell.run", "--resource", "ls | sh").stdout
    assert text.startswith("require_approval: shell.run on ls | sh")
    assert "shell-approval" in text
    assert run_json(home, "approvals", "list") == []  # explaining asks nobody


def test_policy_explain_write_outside_the_workspace_is_denied(home: Path) -> None:
    decision = run_json(home, "policy", "explain", "--action", "file.write", "--resource", "../x")
    assert decision["effect"] == "deny"
    assert decision["policy_ids"] == ["files-write-outside-deny"]
    assert decision["action"]["facts"]["path"] == str(home.parent.parent / "x")
    assert decision["action"]["principal"] == {"type": "User", "id": ME, "on_behalf_of": None}


def test_policy_explain_takes_principal_and_context(home: Path) -> None:
    secret = ["--action", "secret.read", "--resource", "token"]
    assert run_json(home, "policy", "explain", *secret)["effect"] == "deny"
    service = run_json(home, "policy", "explain", *secret, "--principal", 'Service::"grace"')
    assert (service["effect"], service["policy_ids"]) == ("allow", ["secret-service-only"])
    locked = run_json(
        home,
        "policy",
        "explain",
        "--action",
        "file.read",
        "--resource",
        "data.csv",
        "--context",
        '{"mode": "lockdown"}',
    )
    assert (locked["effect"], locked["policy_ids"]) == ("deny", ["mode-lockdown"])
    loopback = run_json(
        home, "policy", "explain", "--action", "net.connect", "--resource", "http://[::1]:8888/"
    )
    assert loopback["effect"] == "allow"


def test_policy_test_passes_the_seeded_cases(home: Path) -> None:
    done = run(home, "policy", "test", str(CASES))
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0])
    assert passed >= 30
    assert summary.endswith(", 0 failed")
    report = run_json(home, "policy", "test", str(CASES))
    assert report["failed"] == 0
    assert all(r["passed"] for r in report["results"])


def test_policy_test_fails_a_wrong_expectation_and_names_the_deciding_policies(
    home: Path, tmp_path: Path
) -> None:
    cases = tmp_path / "wrong.yaml"
    cases.write_text(
        "- name: a critical cell is surely fine\n"
        '  principal: Kernel::"k1"\n'
        "  action: cell.execute\n"
        "  resource: cell-9\n"
        "  context: {findings: {max_severity: 4}}\n"
        "  expect: allow\n"
        "- name: ls runs\n"
        "  principal: user:alice\n"
        "  action: shell.run\n"
        "  resource: ls\n"
        "  context: {command: ls, command_prefixes: [ls]}\n"
        "  expect: allow\n"
    )
    done = run(home, "policy", "test", str(cases), check_code=1)
    assert "FAIL a critical cell is surely fine: expected allow, got deny" in done.stdout
    assert "cell-critical-deny" in done.stdout
    assert "ls runs" not in done.stdout
    assert done.stdout.strip().endswith("1 passed, 1 failed")
    report = run_json(home, "policy", "test", str(cases), check_code=1)
    [failed] = [r for r in report["results"] if not r["passed"]]
    assert failed["policy_ids"] == ["cell-critical-deny"]


def test_policy_test_rejects_a_malformed_cases_file(home: Path, tmp_path: Path) -> None:
    cases = tmp_path / "bad.yaml"
    cases.write_text("- {principal: user:a, action: cell.explode, resource: c, expect: allow}\n")
    done = run(home, "policy", "test", str(cases), check_code=2)
    assert "case 1: unknown action 'cell.explode'" in done.stderr


# ---------------------------------------------------------------------------- approvals


def test_another_person_approves_from_the_cli_and_the_action_then_runs(home: Path) -> None:
    assert ME != "alice"
    approval_id = request_approval(home, Principal.user("alice"))

    listed = run_json(home, "approvals", "list")
    assert [(r["id"], r["state"], r["requester"]) for r in listed] == [
        (approval_id, "pending", "user:alice")
    ]
    assert approval_id in run(home, "approvals", "list").stdout

    done = run(home, "approvals", "approve", approval_id, "--reason", "ok")
    assert f"{approval_id} is now approved" in done.stdout
    shown = state_of(home, approval_id)
    assert (shown["state"], shown["decided_by"], shown["note"]) == ("approved", f"user:{ME}", "ok")

    with Workspace.open(Settings(home=home), create=False) as ws:
        decision = ws.governance.govern(high_cell(Principal.user("alice")))
        assert decision.allowed
        assert decision.approval_id == approval_id
    assert state_of(home, approval_id)["state"] == "used"
    assert [r["id"] for r in run_json(home, "approvals", "list", "--state", "used")] == [
        approval_id
    ]
    assert run_json(home, "verify")["ok"] is True


def test_deny_from_the_cli(home: Path) -> None:
    approval_id = request_approval(home, Principal.user("alice"))
    done = run(home, "approvals", "deny", approval_id, "--reason", "too risky")
    assert f"{approval_id} is now denied" in done.stdout
    shown = state_of(home, approval_id)
    assert (shown["state"], shown["note"]) == ("denied", "too risky")
    again = run(home, "approvals", "approve", approval_id, check_code=2)
    assert "already denied" in again.stderr


def test_approving_an_unknown_request_is_bad_input(home: Path) -> None:
    done = run(home, "approvals", "approve", "apr-000000000000", check_code=2)
    assert "no approval request 'apr-000000000000'" in done.stderr


def test_approving_your_own_request_is_refused(home: Path) -> None:
    approval_id = request_approval(home, Principal.user(ME))
    done = run(home, "approvals", "approve", approval_id, check_code=3)
    assert "self-approval" in done.stderr
    assert state_of(home, approval_id)["state"] == "pending"
    error = run_json(home, "approvals", "approve", approval_id, check_code=3)
    assert error["error"]["kind"] == "policy"


def test_approving_a_request_made_by_a_kernel_for_you_is_refused(home: Path) -> None:
    approval_id = request_approval(home, Principal.kernel("k1", on_behalf_of=ME))
    done = run(home, "approvals", "approve", approval_id, check_code=3)
    assert "self-approval" in done.stderr


def test_approving_in_lockdown_ends_denied_with_exit_3(home: Path) -> None:
    approval_id = request_approval(home, Principal.user("alice"))
    with Workspace.open(Settings(home=home), create=False) as ws, ws.ledger.store.write() as txn:
        txn.set_meta("health.mode", "lockdown")
    done = run(home, "approvals", "approve", approval_id, check_code=3)
    assert f"{approval_id} is now denied" in done.stdout
    assert "policy refuses it even when approved" in done.stdout
    assert state_of(home, approval_id)["state"] == "denied"


def test_approvals_need_an_existing_workspace(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / ".grace"
    done = run(missing, "approvals", "list", check_code=4)
    assert "grace init" in done.stderr
    assert not missing.exists()
