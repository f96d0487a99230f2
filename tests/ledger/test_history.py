"""The verification history: every full verification of a workspace leaves a row."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from grace_kernel.config import Settings
from grace_kernel.ledger import VerificationLog
from grace_kernel.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(Settings(home=tmp_path / ".grace", checkpoint_interval=0.0)) as workspace:
        yield workspace


def _attest(ws: Workspace, count: int) -> None:
    path = ws.root / "data.txt"
    for i in range(count):
        path.write_text(f"{i}\n")
        ws.attest([path])


def test_verifications_are_kept_newest_first_with_who_and_how(ws: Workspace) -> None:
    assert ws.verifications.latest() is None
    _attest(ws, 2)
    ws.verify()
    _attest(ws, 1)
    ws.verify(by="user:vera", via="server")
    newest, older = ws.verifications.recent()
    assert (newest.size, older.size) == (ws.ledger.size, ws.ledger.size - 1)
    assert (newest.by, newest.via) == ("user:vera", "server")
    assert older.via == "python"
    assert older.by.startswith("user:")
    assert (newest.ok, older.ok) == (True, True)
    assert newest.at >= older.at
    assert newest.seconds >= 0
    assert ws.verifications.latest() == newest


def test_a_failed_verification_is_recorded_with_the_first_bad_record(ws: Workspace) -> None:
    _attest(ws, 3)
    with sqlite3.connect(ws.settings.db_path) as conn:
        (blob,) = conn.execute("SELECT envelope FROM ledger_entries WHERE idx = 2").fetchone()
        conn.execute(
            "UPDATE ledger_entries SET envelope = ? WHERE idx = 2",
            (bytes(blob).replace(b'"sig":"', b'"sig":"AAAA', 1),),
        )
    report = ws.verify(via="cli")
    assert not report.ok
    latest = ws.verifications.latest()
    assert latest is not None
    assert (latest.ok, latest.first_bad_index, latest.problem) == (False, 2, report.problem)


def test_a_store_that_refuses_the_row_does_not_hide_the_report(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    _attest(ws, 1)
    ws.verifications.close()  # as during a store recovery: the connection is gone
    with caplog.at_level(logging.WARNING, logger="grace_kernel.workspace"):
        report = ws.verify()
    assert report.ok
    assert "not added to its history" in caplog.text
    assert "offline" in caplog.text


def test_a_reader_sees_no_history_before_the_first_verification(ws: Workspace) -> None:
    _attest(ws, 1)
    reader = VerificationLog(ws.settings.db_path, readonly=True)
    try:
        assert reader.recent() == []  # the table does not exist yet: nothing, not an error
        ws.verify()
        assert [r.size for r in reader.recent()] == [ws.ledger.size]
    finally:
        reader.close()


def test_the_history_keeps_the_newest_rows_only(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("grace_kernel.ledger._history.KEEP", 3)
    for _ in range(5):
        ws.verify()
    assert len(ws.verifications.recent(10)) == 3
