"""Real faults on a real SQLite ledger: unwritable, locked by another process, garbage bytes.

Each test asserts how fast the fault is detected, the mode entered and left,
the incident in ``status()``, the signed records, and that the ledger still
verifies with every acknowledged record in place.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from grace_kernel.health import (
    HEALTH_INCIDENT,
    HEALTH_TRANSITION,
    STORE_RESTORE,
    Health,
    Mode,
    Supervisor,
)
from grace_kernel.ledger import Entry
from grace_kernel.workspace import Workspace

from .conftest import back_to_normal, health_of, write_records

DETECT_BOUND = 2.0  # issue 8: store failure to safe mode within 2 s


def records(ws: Workspace, predicate_type: str) -> list[dict[str, Any]]:
    found = []
    for entry in ws.ledger.tail(ws.ledger.size):
        _, statement = entry.decode()
        if statement.predicate_type == predicate_type:
            found.append(dict(statement.predicate))
    return found


def assert_kept(ws: Workspace, acknowledged: list[Entry]) -> None:
    """Every acknowledged record is still there, byte for byte, and the ledger verifies."""
    for entry in acknowledged:
        assert ws.ledger.entry(entry.index).envelope == entry.envelope
    report = ws.verify()
    assert report.ok, report.problem


def assert_recorded_round_trip(ws: Workspace, worst: Mode) -> dict[str, Any]:
    moves = [(r["from"], r["to"]) for r in records(ws, HEALTH_TRANSITION)]
    assert ("normal", worst.value) in moves
    assert moves[-1][1] == "normal"
    events = [(r["event"], r["id"]) for r in records(ws, HEALTH_INCIDENT)]
    assert [e for e, _ in events] == ["opened", "closed"]
    assert events[0][1] == events[1][1]
    closed = records(ws, HEALTH_INCIDENT)[-1]
    assert closed["root"] == "store"
    assert closed["healed_at"] is not None
    assert closed["mode_before"] == "normal"
    assert closed["mode_after"] == worst.value
    return closed


def test_unwritable_file_goes_safe_and_comes_back(ws: Workspace, supervisor: Supervisor) -> None:
    acknowledged = write_records(ws, 3)
    supervisor.tick()
    assert ws.health_mode() == "normal"
    db = ws.settings.db_path
    db.chmod(0o444)
    try:
        started = time.monotonic()
        supervisor.tick()
        detected = time.monotonic() - started
        assert detected < DETECT_BOUND
        assert health_of(supervisor, "store") is Health.FAILED
        assert supervisor.mode is Mode.SAFE
        assert ws.health_mode() == "safe"  # governance sees it at once
        assert supervisor.pending >= 2  # transition and incident wait for the store
        incident = supervisor.status()["incidents"][0]
        assert incident["open"]
        assert incident["root"] == "store"
        assert "not writable" in incident["cause"]
    finally:
        db.chmod(0o644)
    back_to_normal(supervisor)
    assert supervisor.pending == 0
    closed = assert_recorded_round_trip(ws, Mode.SAFE)
    assert supervisor.status()["incidents"][0]["id"] == closed["id"]
    with ws.ledger.store.read() as txn:
        assert txn.get_meta("health.mode") == "normal"
    assert_kept(ws, acknowledged)


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_lock_held_by_another_process_is_detected_within_the_bound(
    ws: Workspace, supervisor: Supervisor
) -> None:
    acknowledged = write_records(ws, 3)
    supervisor.tick()
    with subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(ws.settings.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as locker:
        assert locker.stdin is not None
        assert locker.stdout is not None
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        supervisor.tick()
        detected = time.monotonic() - started
        assert detected < DETECT_BOUND, detected
        assert health_of(supervisor, "store") is Health.FAILED
        assert "locked by another process" in supervisor.status()["components"][0]["detail"]
        assert supervisor.mode is Mode.SAFE
        locker.stdin.write("release\n")
        locker.stdin.flush()
        assert locker.wait(timeout=10) == 0
    back_to_normal(supervisor)
    assert_recorded_round_trip(ws, Mode.SAFE)
    assert_kept(ws, acknowledged)


def test_garbage_bytes_lock_down_and_restore_the_verified_backup(
    ws: Workspace, supervisor: Supervisor
) -> None:
    acknowledged = write_records(ws, 6)
    supervisor.tick()  # the tick after the writes takes the verified backup
    db = ws.settings.db_path
    size = ws.ledger.size
    db.write_bytes(os.urandom(db.stat().st_size))  # in place: same inode, garbage content
    started = time.monotonic()
    supervisor.tick()
    assert time.monotonic() - started < DETECT_BOUND
    # detected as untrusted -> lockdown; the store's restart restored the backup in the same tick
    assert supervisor.mode is Mode.LOCKDOWN
    assert health_of(supervisor, "store") is Health.OK
    kept = sorted(db.parent.glob("grace.db.damaged-*"))
    assert kept
    assert kept[0].read_bytes()[:16] != b"SQLite format 3\x00"
    restore = records(ws, STORE_RESTORE)[-1]
    assert restore["lost"] is None
    assert restore["backup_size"] == size
    assert restore["damaged_files"][0] == str(kept[0])
    back_to_normal(supervisor)
    closed = assert_recorded_round_trip(ws, Mode.LOCKDOWN)
    assert any(a["action"] == "restart" and a["detail"] == "ok" for a in closed["actions"])
    assert_kept(ws, acknowledged)


def test_garbage_by_rename_replays_records_written_after_the_backup(
    ws: Workspace, supervisor: Supervisor
) -> None:
    acknowledged = write_records(ws, 3)
    supervisor.tick()
    acknowledged += write_records(ws, 3)  # acknowledged, but newer than the backup
    db = ws.settings.db_path
    fake = db.with_name("fake.db")
    fake.write_bytes(b"this is not a ledger" * 100)
    fake.replace(db)  # the workspace's open connection still reads the old file
    supervisor.tick()
    restore = records(ws, STORE_RESTORE)[-1]
    assert restore["replayed"] == 3
    assert restore["lost"] is None
    back_to_normal(supervisor)
    assert_kept(ws, acknowledged)


def test_garbage_with_no_way_to_salvage_records_the_gap(
    ws: Workspace, supervisor: Supervisor
) -> None:
    kept_records = write_records(ws, 3)
    supervisor.tick()
    backup = ws.settings.home / "backup" / "grace.db"
    older = backup.read_bytes()  # a verified backup at this size
    backup_size = ws.ledger.size
    _attest_in_another_process(ws, 5)  # past a checkpoint: the witness has seen them
    supervisor.tick()
    lost_to = ws.ledger.size
    backup.write_bytes(older)  # as if the newer backups had never been taken
    db = ws.settings.db_path
    for damaged in (db, db.with_name("grace.db-wal")):  # the WAL too: nothing to salvage
        damaged.write_bytes(os.urandom(damaged.stat().st_size))
    supervisor.tick()
    restore = records(ws, STORE_RESTORE)[-1]
    assert restore["lost"] == {"from": backup_size, "to": lost_to}
    assert restore["backup_size"] == backup_size
    assert restore["witness_kept"] is not None
    assert Path(restore["witness_kept"]).is_file()
    back_to_normal(supervisor)
    assert_kept(ws, kept_records)


def _attest_in_another_process(ws: Workspace, count: int) -> None:
    """Records another process wrote (this process never read their pages)."""
    script = (
        "import sys; from pathlib import Path\n"
        "from grace_kernel.config import Settings\n"
        "from grace_kernel.workspace import Workspace\n"
        "home = Path(sys.argv[1])\n"
        "with Workspace.open(Settings(home=home, checkpoint_every=4), create=False) as ws:\n"
        "    for i in range(int(sys.argv[2])):\n"
        "        (home.parent / 'other.txt').write_text(str(i))\n"
        "        ws.attest([home.parent / 'other.txt'])\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(ws.settings.home), str(count)], check=True, timeout=60
    )
