"""Records the store could not take yet, kept on disk until it can.

When an append fails (the database locked past its timeout, unwritable,
damaged), the record is written as one JSON line to a spool file next to the
database (``fsync`` ed, so a crash does not lose it) and appended to the ledger
when the store is healthy again: at the next supervisor flush, or when the
next process opens the workspace and drains the spool.  A crash between the
append and the spool's truncation can append a record twice; never zero times.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grace_kernel.errors import GraceError
from grace_kernel.ledger import Ledger, Subject

__all__ = ["RecordSpool"]


class RecordSpool:
    """An append-only file of pending ledger records (``<home>/spool.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def put(
        self, predicate_type: str, subjects: Sequence[Subject], predicate: Mapping[str, Any]
    ) -> None:
        """Keep one record for later; raises ``OSError`` when even the spool cannot be written."""
        line = json.dumps(
            {
                "predicate_type": predicate_type,
                "subjects": [s.to_json() for s in subjects],
                "predicate": dict(predicate),
            },
            sort_keys=True,
        )
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    @property
    def pending(self) -> int:
        with self._lock, contextlib.suppress(FileNotFoundError):
            return sum(1 for line in self.path.read_text().splitlines() if line.strip())
        return 0

    def drain(self, ledger: Ledger) -> int:
        """Append every spooled record, in order; how many.  Stops at the first failure.

        What was appended is removed from the spool; the rest stays for the next drain.
        """
        with self._lock:
            try:
                lines = [x for x in self.path.read_text().splitlines() if x.strip()]
            except FileNotFoundError:
                return 0
            done = 0
            try:
                for line in lines:
                    doc = json.loads(line)
                    subjects = [Subject(s["name"], s["digest"]["sha256"]) for s in doc["subjects"]]
                    ledger.append(
                        subjects=subjects,
                        predicate_type=doc["predicate_type"],
                        predicate=doc["predicate"],
                    )
                    done += 1
            except GraceError:
                pass  # the store failed again: keep the rest
            finally:
                self._rewrite(lines[done:])
            return done

    def _rewrite(self, lines: list[str]) -> None:
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        with open(tmp, "rb") as handle:  # noqa: PTH123 - fsync needs a file descriptor
            os.fsync(handle.fileno())
        tmp.replace(self.path)
