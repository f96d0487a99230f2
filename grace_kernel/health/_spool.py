"""Records the store could not take yet, kept on disk until it can.

When an append fails (the database locked past its timeout, unwritable,
damaged), the record is written as one JSON line to a spool file next to the
database (``fsync`` ed, so a crash does not lose it) and appended to the ledger
when the store is healthy again: at the next supervisor flush, or when the
next process opens the workspace and drains the spool.  A crash between the
append and the spool's truncation can append a record twice; never zero times.
A line that does not parse (a damaged spool) is moved to ``<spool>.rejected``,
kept for a person to read, and the rest drains.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grace_kernel.errors import GraceEnvironmentError, GraceError, StoreError
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
        """Keep one record for later (:class:`GraceEnvironmentError` if even that fails)."""
        line = json.dumps(
            {
                "predicate_type": predicate_type,
                "subjects": [s.to_json() for s in subjects],
                "predicate": dict(predicate),
            },
            sort_keys=True,
        )
        with self._lock:
            self._append(self.path, [line])

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._lines())

    def drain(self, ledger: Ledger) -> int:
        """Append every spooled record, in order; how many.  Stops at the first store failure
        (:class:`StoreError`); a line that does not parse or is refused as a record is set aside.

        What was appended is removed from the spool; the rest stays for the next drain.
        """
        with self._lock:
            lines = self._lines()
            done, rejected = 0, []
            try:
                for line in lines:
                    try:
                        doc = json.loads(line)
                        subjects = [
                            Subject(s["name"], s["digest"]["sha256"]) for s in doc["subjects"]
                        ]
                        kind, predicate = doc["predicate_type"], doc["predicate"]
                        ledger.append(subjects=subjects, predicate_type=kind, predicate=predicate)
                    except StoreError:
                        raise  # the store failed again: this line and the rest stay
                    except (ValueError, KeyError, TypeError, GraceError):
                        rejected.append(line)  # damaged: kept aside, never appended half-read
                    done += 1
            except StoreError:
                pass
            finally:
                if rejected:
                    self._append(self.path.with_name(self.path.name + ".rejected"), rejected)
                self._rewrite(lines[done:])
            return done - len(rejected)

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise GraceEnvironmentError(f"cannot read {self.path}: {exc.strerror}") from None
        return [line for line in text.splitlines() if line.strip()]

    @staticmethod
    def _append(path: Path, lines: list[str]) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, "".join(line + "\n" for line in lines).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise GraceEnvironmentError(f"cannot write {path}: {exc.strerror}") from None

    def _rewrite(self, lines: list[str]) -> None:
        try:
            if not lines:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in lines))
            with open(tmp, "rb") as handle:  # noqa: PTH123 - fsync needs a file descriptor
                os.fsync(handle.fileno())
            tmp.replace(self.path)
        except OSError as exc:
            raise GraceEnvironmentError(f"cannot rewrite {self.path}: {exc.strerror}") from None
