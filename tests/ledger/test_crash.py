"""Crash safety: a writer killed with SIGKILL at any moment loses nothing it acknowledged.

Each child process opens the same workspace and appends in a loop (single
records and small batches, with a checkpoint every few records), printing
``<index> <leaf hash>`` for every record once :meth:`Ledger.append` (or the
batch) has returned.  The parent kills it at a random moment.  Afterwards the
ledger must open and verify, and hold every acknowledged record unchanged.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from grace_kernel.config import Settings
from grace_kernel.ledger import FileWitness, leaf_hash
from grace_kernel.workspace import Workspace

KILLS = 24
MAX_DELAY = 0.3
CHECKPOINT_EVERY = 5

CHILD = textwrap.dedent(
    """
    import hashlib
    import sys
    from pathlib import Path

    from grace_kernel.config import Settings
    from grace_kernel.ledger import Subject
    from grace_kernel.workspace import Workspace

    home, tag, every = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ws = Workspace.open(Settings(home=home, checkpoint_every=every, checkpoint_interval=0.0))

    def record(n):
        name = f"crash/{tag}/{n}"
        return dict(
            subjects=[Subject(name, hashlib.sha256(name.encode()).hexdigest())],
            predicate_type="urn:grace:predicate:test:v1",
            predicate={"child": tag, "n": n},
        )

    n = 0
    while True:
        if n % 4 == 3:
            with ws.ledger.batch() as batch:
                for k in range(3):
                    batch.append(**record(n * 10 + k))
            acknowledged = batch.entries
        else:
            acknowledged = [ws.ledger.append(**record(n * 10))]
        for entry in acknowledged:
            print(entry.index, entry.leaf_hash.hex(), flush=True)
        n += 1
    """
)


class Child:
    """One writer process and a thread collecting the lines it has printed."""

    def __init__(self, home: Path, tag: str, stderr: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home), tag, str(CHECKPOINT_EVERY)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                break  # killed mid-line: the record may exist, but it was not seen as acknowledged
            with self._changed:
                self.lines.append(raw.decode("ascii"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until the child has acknowledged ``count`` records; False if it died first."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.lines) >= count or self._eof, timeout)
            return len(self.lines) >= count

    def kill(self) -> list[tuple[int, str]]:
        """SIGKILL the child; returns every (index, leaf hash) it acknowledged."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        acked = []
        for line in self.lines:
            index, leaf = line.split()
            acked.append((int(index), leaf))
        return acked


def stored_size(settings: Settings) -> int:
    conn = sqlite3.connect(settings.db_path)
    try:
        (last,) = conn.execute("SELECT max(idx) FROM ledger_entries").fetchone()
    finally:
        conn.close()
    return 0 if last is None else int(last) + 1


@pytest.mark.slow
def test_sigkilled_writers_lose_no_acknowledged_record(tmp_path: Path) -> None:
    home = tmp_path / ".grace"
    settings = Settings(home=home, checkpoint_every=CHECKPOINT_EVERY, checkpoint_interval=0.0)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acknowledged: dict[int, str] = {}
    kills_with_acks = 0

    for round_no in range(KILLS):
        log = tmp_path / f"child-{round_no}.stderr"
        with log.open("wb") as stderr:
            child = Child(home, str(round_no), stderr)
            try:
                got = child.wait_for(rng.randint(3, 12), timeout=60)
                if got:
                    time.sleep(rng.uniform(0.0, MAX_DELAY))
            finally:
                acked = child.kill()
        assert got, f"child {round_no} died early (seed {seed}):\n{log.read_text()}"
        assert child.proc.returncode == -signal.SIGKILL, log.read_text()
        for index, leaf in acked:
            previous = acknowledged.setdefault(index, leaf)
            assert previous == leaf, f"index {index} acknowledged twice (seed {seed})"
        kills_with_acks += bool(acked)
        witness = FileWitness(settings.witness_path).read()
        size = stored_size(settings)
        assert witness is None or witness.size <= size, (
            f"kill {round_no} left the witness at size {witness.size} but the database at "
            f"{size}: the witness learned of a checkpoint that was never committed (seed {seed})"
        )

    assert kills_with_acks == KILLS
    with Workspace.open(settings) as ws:
        report = ws.verify()
        assert report.ok, f"{report.problem} (seed {seed})"
        stored = list(ws.ledger.store.iter_envelopes())
        for index, leaf in sorted(acknowledged.items()):
            assert index < len(stored), f"acknowledged record {index} is gone (seed {seed})"
            assert leaf_hash(stored[index]).hex() == leaf, f"record {index} changed (seed {seed})"
            assert ws.ledger.entry(index).leaf_hash.hex() == leaf
    assert len(acknowledged) >= 3 * KILLS


WITNESS_KILL = textwrap.dedent(
    """
    import os
    import signal
    import sys
    from pathlib import Path

    from grace_kernel.config import Settings
    from grace_kernel.ledger import FileWitness, Subject
    from grace_kernel.workspace import Workspace

    advance = FileWitness.advance

    def advance_then_die(self, checkpoint):
        advance(self, checkpoint)
        if checkpoint.size == 8:
            os.kill(os.getpid(), signal.SIGKILL)

    FileWitness.advance = advance_then_die
    ws = Workspace.open(
        Settings(home=Path(sys.argv[1]), checkpoint_every=8, checkpoint_interval=0.0)
    )
    for n in range(1, 20):
        ws.ledger.append(
            subjects=[Subject(f"f{n}", "0" * 64)],
            predicate_type="urn:grace:predicate:test:v1",
            predicate={"n": n},
        )
        print(n, flush=True)
    """
)


@pytest.mark.slow
def test_kill_while_a_checkpoint_is_being_written_keeps_ledger_verifiable(tmp_path: Path) -> None:
    """The process dies right after the witness learns of a checkpoint, inside its commit.

    Whatever the order of the witness update and the database commit, a crash
    at that moment must not make the intact ledger look rolled back.
    """
    home = tmp_path / ".grace"
    done = subprocess.run(
        [sys.executable, "-c", WITNESS_KILL, str(home)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    acknowledged = [int(line) for line in done.stdout.split()]
    assert acknowledged == list(range(1, 7))

    with Workspace.open(Settings(home=home, checkpoint_every=8, checkpoint_interval=0.0)) as ws:
        report = ws.verify()
        assert report.ok, report.problem
        assert ws.ledger.size >= 7
        for n in acknowledged:
            assert ws.ledger.entry(n).decode()[1].predicate["n"] == n
