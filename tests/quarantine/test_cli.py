"""``grace quarantine`` as a person uses it: move in, await approval, restore, refuse bad input."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from grace_kernel.errors import IntegrityError
from grace_kernel.quarantine import QUARANTINE
from tests.quarantine.conftest import ME, OTHER, Project


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _request_restore(project: Project, entry_id: str, *extra: str) -> str:
    """Ask for a restore; it waits for approval (exit 3) and names the request."""
    waiting = project.grace_json("quarantine", "restore", entry_id, *extra, code=3)
    assert waiting["state"] == "awaiting_approval"
    assert waiting["approve"] == f"grace approvals approve {waiting['approval_id']}"
    return str(waiting["approval_id"])


def test_quarantine_moves_the_file_into_a_private_blob_with_a_signed_record(
    project: Project,
) -> None:
    path = project.write("data/suspect.py", "print('x')\n", mode=0o640)
    entry = project.grace_json("quarantine", "add", "data/suspect.py", "--reason", "odd import")

    assert not path.exists()
    blob = project.blob(entry["sha256"])
    assert blob.read_bytes() == b"print('x')\n"
    assert (_mode(blob), _mode(blob.parent)) == (0o600, 0o700)
    assert entry == {
        **entry,
        "path": "data/suspect.py",
        "size": 11,
        "mode": "0640",
        "who": f"user:{ME}",
        "why": "odd import",
        "state": "quarantined",
    }
    [record] = project.records()
    assert record == {
        **record,
        "action": "quarantine",
        "id": entry["id"],
        "principal": f"user:{ME}",
        "why": "odd import",
        "size": 11,
        "mode": "0640",
        "decision_id": entry["decision_id"],
    }
    assert entry["ledger_index"] == record["_index"]
    with project.open() as ws:
        assert ws.verify().ok
        _, statement = ws.ledger.entry(record["_index"]).decode()
    assert statement.predicate_type == QUARANTINE
    assert [(s.name, s.sha256) for s in statement.subjects] == [
        ("data/suspect.py", entry["sha256"])
    ]


def test_the_short_form_is_add_and_list_show_report_the_entry(project: Project) -> None:
    project.write("notes.txt", "secret-ish\n")
    done = project.grace("quarantine", "notes.txt")
    entry_id = done.stdout.split(" as ", 1)[1].split()[0]
    assert f"grace quarantine restore {entry_id}" in done.stdout

    assert [e["id"] for e in project.grace_json("quarantine", "list")] == [entry_id]
    assert "no reason given" in project.grace("quarantine", "list").stdout
    shown = project.grace_json("quarantine", "show", entry_id)
    assert (shown["blob"], shown["path"]) == ("intact", "notes.txt")


def test_restore_waits_for_approval_then_puts_back_content_and_mode(project: Project) -> None:
    content = b"#!/bin/sh\necho hi\n\x00\xff"
    path = project.write("bin/tool.sh", content, mode=0o750)
    entry = project.grace_json("quarantine", "bin/tool.sh")

    shown = project.grace("quarantine", "restore", entry["id"], code=3).stdout
    approval_id = shown.split("request ", 1)[1].split()[0]
    assert f"grace approvals approve {approval_id}" in shown
    assert not path.exists()
    [pending] = project.grace_json("approvals", "list", "--state", "pending")
    assert (pending["id"], pending["action"]["kind"]) == (approval_id, "file.restore")
    assert pending["action"]["facts"]["sha256"] == entry["sha256"]

    project.approve(approval_id)
    restored = project.grace_json("quarantine", "restore", entry["id"])

    assert path.read_bytes() == content
    assert _mode(path) == 0o750
    assert restored == {
        **restored,
        "state": "restored",
        "restored_to": "bin/tool.sh",
        "restored_by": f"user:{ME}",
        "approval_id": approval_id,
    }
    assert project.blobs() == []
    assert project.grace_json("approvals", "show", approval_id)["state"] == "used"
    assert project.grace_json("quarantine", "list") == []
    assert [e["id"] for e in project.grace_json("quarantine", "list", "--all")] == [entry["id"]]
    quarantined, put_back = project.records()
    assert put_back == {
        **put_back,
        "action": "restore",
        "id": entry["id"],
        "principal": f"user:{ME}",
        "approval_id": approval_id,
    }
    assert quarantined["_index"] < put_back["_index"]
    with project.open() as ws:
        assert ws.verify().ok


def test_the_person_who_asked_cannot_approve_their_own_restore(project: Project) -> None:
    project.write("a.txt", "a\n")
    entry = project.grace_json("quarantine", "a.txt")
    approval_id = _request_restore(project, entry["id"])
    refused = project.grace("approvals", "approve", approval_id, code=3)
    assert "self-approval is refused" in refused.output


def test_an_approval_covers_that_content_only(project: Project) -> None:
    project.write("a.txt", "first\n")
    first = project.grace_json("quarantine", "a.txt")
    project.write("a.txt", "second\n")
    second = project.grace_json("quarantine", "a.txt")
    project.approve(_request_restore(project, first["id"]))
    # Same path, other content: the approval for the first does not let the second back.
    _request_restore(project, second["id"])
    assert not (project.root / "a.txt").exists()


def test_restore_refuses_an_existing_destination_and_offers_to(project: Project) -> None:
    project.write("a.txt", "quarantined\n")
    entry = project.grace_json("quarantine", "a.txt")
    project.write("a.txt", "new work\n")

    refused = project.grace("quarantine", "restore", entry["id"], code=2)
    assert "already exists" in refused.output
    assert "--to PATH" in refused.output
    assert (project.root / "a.txt").read_text() == "new work\n"
    assert project.grace_json("approvals", "list") == []

    (project.root / "review").mkdir()
    project.approve(_request_restore(project, entry["id"], "--to", "review"))
    project.grace("quarantine", "restore", entry["id"], "--to", "review")
    assert (project.root / "review" / "a.txt").read_text() == "quarantined\n"
    assert (project.root / "a.txt").read_text() == "new work\n"


def test_a_tampered_blob_is_an_integrity_error_and_nothing_is_written(project: Project) -> None:
    path = project.write("a.txt", "original\n")
    entry = project.grace_json("quarantine", "a.txt")
    project.blob(entry["sha256"]).write_text("tampered\n")

    refused = project.grace("quarantine", "restore", entry["id"], code=1)
    assert "was modified" in refused.output
    assert not path.exists()
    assert sorted(p.name for p in project.root.iterdir()) == [".grace"]
    assert project.grace_json("approvals", "list") == []  # verified before asking anyone
    shown = project.grace_json("quarantine", "show", entry["id"], code=1)
    assert shown["blob"].startswith("damaged")


def test_a_tampered_blob_found_while_copying_leaves_no_trace(project: Project) -> None:
    path = project.write("a.txt", "original\n")
    entry = project.grace_json("quarantine", "a.txt")
    with project.open() as ws:
        found = ws.quarantine.get(entry["id"])
        project.blob(entry["sha256"]).write_text("swapped after the check\n")
        with pytest.raises(IntegrityError, match="was modified"):
            ws.quarantine.restore(found, path, by=OTHER)
    assert sorted(p.name for p in project.root.iterdir()) == [".grace"]
    assert project.grace_json("quarantine", "list")[0]["state"] == "quarantined"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("folder", "is a directory"),
        ("missing.txt", "no such file"),
        (".grace/grace.db", "inside .grace/"),
        ("link", "is a symbolic link"),
    ],
)
def test_malformed_input_is_a_clear_error_and_records_nothing(
    project: Project, argument: str, message: str
) -> None:
    target = project.write("x", "x\n")
    (project.root / "folder").mkdir()
    (project.root / "link").symlink_to(target)
    size = project.ledger_size()
    refused = project.grace("quarantine", "add", argument, code=2)
    assert message in refused.output
    assert project.ledger_size() == size
    assert target.exists()


def test_files_outside_the_workspace_are_refused_by_policy(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours\n")
    refused = project.grace("quarantine", str(outside), code=3)
    assert "quarantine-workspace-only" in refused.output
    assert outside.exists()


def test_unknown_ids_and_second_restores_are_input_errors(project: Project) -> None:
    assert "no quarantine entry" in project.grace("quarantine", "show", "q-0", code=2).output
    assert "no quarantine entry" in project.grace("quarantine", "restore", "q-0", code=2).output
    project.write("a.txt", "a\n")
    entry = project.grace_json("quarantine", "a.txt")
    project.approve(_request_restore(project, entry["id"]))
    project.grace("quarantine", "restore", entry["id"])
    (project.root / "a.txt").unlink()
    again = project.grace("quarantine", "restore", entry["id"], code=2)
    assert "already restored" in again.output
