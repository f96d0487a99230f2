"""The quarantine store: crash safety by ordering, idempotent retries, shared blobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grace_kernel.errors import GraceEnvironmentError
from grace_kernel.governance import Principal
from grace_kernel.quarantine import quarantine_file, restore_file
from tests.quarantine.conftest import ME, Project

PERSON = Principal.user(ME)


def _failing_unlink(monkeypatch: pytest.MonkeyPatch, victim: Path) -> None:
    """Make removing ``victim`` fail as a crash or a read-only mount would (other paths work)."""
    real = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == victim:
            raise PermissionError(13, "Permission denied (simulated)")
        real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)


def test_a_failure_before_the_original_goes_leaves_it_in_place_and_quarantined(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project.write("report.py", "import os\n")
    _failing_unlink(monkeypatch, path)
    with project.open() as ws, pytest.raises(GraceEnvironmentError) as failed:
        quarantine_file(ws, path, principal=PERSON, reason="first try")
    assert "could not be removed" in failed.value.message
    assert "quarantine it again" in (failed.value.hint or "")

    assert path.read_text() == "import os\n"
    [entry] = project.grace_json("quarantine", "list")
    assert project.blob(entry["sha256"]).read_text() == "import os\n"
    [record] = project.records()
    assert (record["id"], record["_index"]) == (entry["id"], entry["ledger_index"])

    monkeypatch.undo()
    with project.open() as ws:
        again = quarantine_file(ws, path, principal=PERSON, reason="second try")
        assert ws.verify().ok
    assert again.id == entry["id"]
    assert again.why == "first try"
    assert not path.exists()
    assert len(project.records()) == 1
    assert len(project.grace_json("quarantine", "list")) == 1


def test_an_unrecorded_entry_is_recorded_when_the_move_is_finished(project: Project) -> None:
    """A crash between the index row and the ledger record: the retry signs it once."""
    path = project.write("a.txt", "a\n")
    with project.open() as ws:
        blob = ws.quarantine.blobs.put_file(path)
        stranded = ws.quarantine.index.insert(
            sha256=blob.sha256,
            path="a.txt",
            size=blob.size,
            mode=blob.mode,
            who=PERSON.label,
            why="crashed",
            decision_id=None,
            now=0.0,
        )
        assert project.records() == []
        finished = quarantine_file(ws, path, principal=PERSON)
    assert (finished.id, finished.ledger_index) == (stranded.id, project.records()[0]["_index"])
    assert not path.exists()


def test_the_same_content_twice_shares_one_blob_until_both_are_restored(
    project: Project,
) -> None:
    first = project.write("one/data.csv", "x,y\n1,2\n")
    second = project.write("two/data.csv", "x,y\n1,2\n", mode=0o600)
    with project.open() as ws:
        one = quarantine_file(ws, first, principal=PERSON)
        two = quarantine_file(ws, second, principal=PERSON)
    assert one.id != two.id
    assert one.sha256 == two.sha256
    assert project.blobs() == [one.sha256]

    for entry, path in [(one, first), (two, second)]:
        project.approve(_pending_restore(project, entry.id))
        with project.open() as ws:
            restore_file(ws, entry.id, principal=PERSON)
        assert path.read_text() == "x,y\n1,2\n"
        assert project.blobs() == ([] if entry is two else [one.sha256])
    assert oct(second.stat().st_mode & 0o777) == oct(0o600)


def _pending_restore(project: Project, entry_id: str) -> str:
    waiting = project.grace_json("quarantine", "restore", entry_id, code=3)
    return str(waiting["approval_id"])


def test_a_file_changed_while_copied_is_not_removed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project.write("live.log", "line 1\n")
    with project.open() as ws:
        real_put = ws.quarantine.blobs.put_file

        def put_then_append(source: Path) -> object:
            blob = real_put(source)
            with source.open("a") as handle:
                handle.write("line 2 written meanwhile\n")
            return blob

        monkeypatch.setattr(ws.quarantine.blobs, "put_file", put_then_append)
        with pytest.raises(GraceEnvironmentError, match="changed after it was copied"):
            quarantine_file(ws, path, principal=PERSON)
    assert path.read_text() == "line 1\nline 2 written meanwhile\n"
