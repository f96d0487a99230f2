"""``grace status``, ``grace heal`` and ``grace mode`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grace_kernel.config import Settings
from grace_kernel.governance import Principal
from grace_kernel.health import HEALTH_TRANSITION
from grace_kernel.workspace import Workspace
from tests.cli.test_cli import run, run_json

from .test_store_faults import records


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "project" / ".grace"
    run(home, "init")
    return home


def test_status_shows_components_mode_and_incidents(home: Path) -> None:
    data = run_json(home, "status")
    assert data["initialized"]
    assert data["size"] >= 1
    health = data["health"]
    assert health["mode"] == "normal"
    assert {c["name"]: c["health"] for c in health["components"]} == {
        "store": "ok",
        "policy": "ok",
        "scanner": "ok",
        "process": "ok",
    }
    assert health["incidents"] == []
    text = run(home, "status").stdout
    assert "health mode: normal" in text
    assert "  store      ok" in text


def test_heal_dry_run_then_heal_a_damaged_store(home: Path) -> None:
    assert run_json(home, "heal", "--dry-run")["actions"] == []
    run(home, "heal")  # healthy: takes the first verified backup
    assert (home / "backup" / "grace.db").is_file()
    db = home / "grace.db"
    db.write_bytes(os.urandom(db.stat().st_size))
    planned = run_json(home, "heal", "store", "--dry-run")
    assert [(a["component"], a["action"]) for a in planned["actions"]] == [
        ("store", "would-restart")
    ]
    assert db.read_bytes()[:6] != b"SQLite"  # a dry run changes nothing
    done = run_json(home, "heal", "store")
    assert [(a["component"], a["action"], a["detail"]) for a in done["actions"]] == [
        ("store", "restart", "ok")
    ]
    assert list(home.glob("grace.db.damaged-*"))
    assert done["actions"][0]["restore"]["lost"] is None
    status = run_json(home, "status")["health"]
    assert status["components"][0]["health"] == "ok"
    assert status["mode"] == "normal"
    assert run(home, "verify").returncode == 0


def test_heal_refuses_an_unknown_component(home: Path) -> None:
    done = run(home, "heal", "nope", check_code=2)
    assert "no component 'nope'" in done.stderr


def test_mode_set_needs_approval_then_applies(home: Path) -> None:
    waiting = run_json(home, "mode", "set", "safe", "--reason", "drill", check_code=3)
    approval_id = waiting["approval_id"]
    assert waiting["state"] == "awaiting_approval"
    assert run_json(home, "mode", "show")["mode"] == "normal"
    with Workspace.open(Settings(home=home), create=False) as ws:
        ws.governance.approve(approval_id, approver=Principal.user("reviewer-bob"))
    done = run_json(home, "mode", "set", "safe", "--reason", "drill")
    assert (done["from"], done["to"], done["approval_id"]) == ("normal", "safe", approval_id)
    assert run_json(home, "mode", "show") == {"mode": "safe", "manual": "safe"}
    assert run_json(home, "status")["governance"]["mode"] == "safe"
    with Workspace.open(Settings(home=home), create=False) as ws:
        [transition] = records(ws, HEALTH_TRANSITION)
        assert "drill" in transition["cause"]
    # the approval was for "safe": setting "normal" is a new request
    again = run_json(home, "mode", "set", "normal", check_code=3)
    assert again["approval_id"] != approval_id
