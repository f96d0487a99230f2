"""A witness: the newest checkpoint this verifier has seen, kept outside the database.

A log alone cannot prove it is complete: cut its tail and replay an older,
validly signed checkpoint, and it is self-consistent.  A witness remembers the
largest checkpoint seen so far, so a later verification can detect the
rollback.  The workspace keeps one in ``.grace/witness/checkpoint``;
``grace verify --bundle DIR --witness FILE`` keeps one for a bundle.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from grace_kernel.errors import GraceEnvironmentError, MalformedRecordError
from grace_kernel.ledger._checkpoint import Checkpoint

__all__ = ["FileWitness"]


class FileWitness:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Checkpoint | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise GraceEnvironmentError(f"cannot read witness {self.path}: {exc}") from None
        try:
            return Checkpoint.from_text(text)
        except MalformedRecordError as exc:
            raise MalformedRecordError(f"witness {self.path}: {exc.message}") from None

    def advance(self, checkpoint: Checkpoint) -> None:
        """Remember ``checkpoint`` if it is larger than what is remembered (atomic replace)."""
        with self._locked():
            current = self.read()
            if current is not None and current.size >= checkpoint.size:
                return
            tmp = self.path.with_suffix(".tmp")
            try:
                with tmp.open("w", encoding="utf-8") as handle:
                    handle.write(checkpoint.to_text())
                    handle.flush()
                    os.fsync(handle.fileno())
                tmp.replace(self.path)
            except OSError as exc:
                raise GraceEnvironmentError(
                    f"cannot write witness {self.path}: {exc.strerror}"
                ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = (self.path.parent / ".lock").open("a")
        except OSError as exc:
            raise GraceEnvironmentError(
                f"cannot lock witness {self.path}: {exc.strerror}"
            ) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
