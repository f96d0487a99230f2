"""The record spool: what a failing store could not take is kept on disk and appended later."""

from __future__ import annotations

import hashlib
from pathlib import Path

from grace_kernel.config import Settings
from grace_kernel.health import RecordSpool
from grace_kernel.ledger import SQLiteLedgerStore, Subject, predicate_type_urn
from grace_kernel.workspace import Workspace

KIND = predicate_type_urn("cell-execution")


def _subject(n: int) -> Subject:
    return Subject(f"nb.ipynb#cell-{n}:code", hashlib.sha256(str(n).encode()).hexdigest())


def test_spooled_records_survive_a_failed_drain_and_land_in_order(tmp_path: Path) -> None:
    spool = RecordSpool(tmp_path / "spool.jsonl")
    for n in range(3):
        spool.put(KIND, [_subject(n)], {"cell_id": f"cell-{n}", "status": "ok"})
    assert spool.pending == 3
    assert (tmp_path / "spool.jsonl").stat().st_mode & 0o777 == 0o600

    with Workspace.open(Settings(home=tmp_path / "broken" / ".grace")) as broken:
        store = broken.ledger.store
        assert isinstance(store, SQLiteLedgerStore)
        with store.offline():  # a store that refuses every append
            assert spool.drain(broken.ledger) == 0  # Grace's store errors are kept, not raised
    assert spool.pending == 3

    with Workspace.open(Settings(home=tmp_path / ".grace")) as ws:
        before = ws.ledger.size
        assert spool.drain(ws.ledger) == 3
        assert spool.pending == 0
        assert not (tmp_path / "spool.jsonl").exists()
        cells = []
        for entry in ws.ledger.tail(ws.ledger.size - before):
            _, statement = entry.decode()
            cells.append(statement.predicate["cell_id"])
            assert statement.subjects[0].name.startswith("nb.ipynb#cell-")
        assert cells == ["cell-0", "cell-1", "cell-2"]
        assert ws.verify().ok
    assert spool.drain(ws.ledger) == 0  # nothing left: a no-op


def test_a_damaged_line_is_set_aside_and_the_rest_still_lands(tmp_path: Path) -> None:
    spool = RecordSpool(tmp_path / "spool.jsonl")
    spool.put(KIND, [_subject(0)], {"cell_id": "cell-0", "status": "ok"})
    with (tmp_path / "spool.jsonl").open("a") as handle:
        handle.write('{"predicate_type": "urn:x", "subj\n')  # cut off by a crash mid-write
        handle.write('{"predicate_type": "not a urn", "subjects": [], "predicate": {}}\n')
    spool.put(KIND, [_subject(1)], {"cell_id": "cell-1", "status": "ok"})

    with Workspace.open(Settings(home=tmp_path / ".grace")) as ws:
        before = ws.ledger.size
        assert spool.drain(ws.ledger) == 2
        cells = [
            e.decode()[1].predicate["cell_id"] for e in ws.ledger.tail(ws.ledger.size - before)
        ]
        assert cells == ["cell-0", "cell-1"]
        assert ws.verify().ok
    assert spool.pending == 0
    rejected = (tmp_path / "spool.jsonl.rejected").read_text().splitlines()
    assert len(rejected) == 2  # kept for a person to read, not lost
    assert rejected[0].endswith('"subj')
