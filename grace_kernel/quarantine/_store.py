"""A workspace's quarantine: blobs in ``.grace/quarantine``, the index, and signed records.

This is the mechanism, not the permission: :mod:`grace_kernel.quarantine._governed`
asks governance first and calls in here only when the action is allowed.

Order is what makes it crash-safe.  Moving a file in: (1) the blob is written
and fsynced, (2) the index row is committed, (3) the signed record is appended,
and only then (4) the original is removed.  A crash anywhere before (4) leaves
the file both in place and quarantined; quarantining it again finds the entry
by path and digest and finishes the job under the same id.  Restoring: the
blob is verified while it is copied next to the destination, published there
only if nothing exists yet, then the entry is marked restored and recorded; the
blob is deleted last, and only when no other entry still needs that content.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grace_kernel.errors import GraceEnvironmentError, InputError
from grace_kernel.governance import Principal, path_facts
from grace_kernel.ledger import Ledger, Subject, predicate_type_urn
from grace_kernel.quarantine._index import QuarantineEntry, QuarantineIndex
from grace_kernel.store import Blob, BlobStore, identity, require_regular, unlink_durably

__all__ = ["QUARANTINE", "Quarantine", "destination_exists"]

QUARANTINE = predicate_type_urn("quarantine")
_NO_REASON = "no reason given"


def destination_exists(dest: Path) -> InputError:
    return InputError(
        f"{dest} already exists; a restore never overwrites a file",
        hint="restore somewhere else with `--to PATH`, or move the existing file away first",
    )


class Quarantine:
    """Moves files into and out of a workspace's content-addressed quarantine."""

    def __init__(
        self,
        *,
        root: Path,
        home: Path,
        ledger: Ledger,
        db_path: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.blobs = BlobStore(
            home / "quarantine",
            kind="quarantined",
            damaged_hint="nothing was restored; the blob is kept as evidence",
        )
        self.index = QuarantineIndex(db_path)
        self.ledger = ledger
        self._clock = clock

    def close(self) -> None:
        self.index.close()

    def get(self, entry_id: str) -> QuarantineEntry:
        return self.index.get(entry_id)

    def list(self, *, include_restored: bool = False) -> list[QuarantineEntry]:
        return self.index.list(include_restored=include_restored)

    # ------------------------------------------------------------------ where

    def locate(self, path: Path) -> tuple[Path, dict[str, Any]]:
        """A path (relative ones against the workspace root) and its resolved facts.

        Grace's own directory is refused here, before policy is asked: moving
        its database or keys away would be destruction, not containment.
        """
        raw = path if path.is_absolute() else self.root / path
        facts = path_facts(raw, workspace=self.root)
        if facts["in_grace_dir"]:
            raise InputError(
                f"{path} is inside .grace/ (Grace's own files)",
                hint="only files of the workspace itself can be quarantined or restored",
            )
        return raw, facts

    def target(self, path: Path) -> tuple[Path, dict[str, Any]]:
        """The file to quarantine: it must exist and be a regular file outside ``.grace/``."""
        source, facts = self.locate(path)
        try:
            info = source.lstat()
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        require_regular(path, info.st_mode)
        return source, facts

    def destination(self, entry: QuarantineEntry, to: Path | None) -> tuple[Path, dict[str, Any]]:
        """Where a restore writes: ``to`` (into a directory: same name), else the original path."""
        if entry.state != "quarantined":
            raise InputError(
                f"{entry.id} was already restored to {entry.restored_to}",
                hint="`grace quarantine show ID` has the details",
            )
        if to is None:
            to = Path(entry.path)
        elif to.is_dir():
            to = to / Path(entry.path).name
        dest, facts = self.locate(to)
        if os.path.lexists(dest):
            raise destination_exists(dest)
        return dest, facts

    # ------------------------------------------------------------------ in

    def put(
        self, path: Path, *, who: Principal, why: str, decision_id: str | None = None
    ) -> QuarantineEntry:
        """Move a file in: blob, index row and signed record first, the original last."""
        source, facts = self.target(path)
        blob = self.blobs.put_file(source)
        entry = self.index.find(facts["path"], blob.sha256) or self.index.insert(
            sha256=blob.sha256,
            path=facts["path"],
            size=blob.size,
            mode=blob.mode,
            who=who.label,
            why=why.strip() or _NO_REASON,
            decision_id=decision_id,
            now=self._clock(),
        )
        if entry.ledger_index is None:
            index = self._record(
                entry,
                "quarantine",
                entry.path,
                principal=entry.who,
                why=entry.why,
                size=entry.size,
                mode=entry.mode_text,
                decision_id=entry.decision_id,
            )
            entry = self.index.set_recorded(entry.id, index)
        self._remove_original(source, blob, entry)
        return entry

    def _remove_original(self, source: Path, blob: Blob, entry: QuarantineEntry) -> None:
        try:
            if identity(source.lstat()) != blob.source:
                raise GraceEnvironmentError(
                    f"{source} changed after it was copied: the copy is quarantined as "
                    f"{entry.id}, the file was left in place",
                    hint="run the command again to quarantine its current content",
                )
            unlink_durably(source)
        except OSError as exc:
            raise GraceEnvironmentError(
                f"{source} is quarantined as {entry.id} but could not be removed: {exc.strerror}",
                hint="remove it by hand, or quarantine it again to finish (same entry)",
            ) from None

    # ------------------------------------------------------------------ out

    def verify(self, entry: QuarantineEntry) -> None:
        """Raise :class:`~grace_kernel.errors.IntegrityError` if its blob is gone or altered."""
        self.blobs.verify(entry.sha256)

    def restore(
        self,
        entry: QuarantineEntry,
        dest: Path,
        *,
        by: Principal,
        approval_id: str | None = None,
    ) -> QuarantineEntry:
        """Put a verified copy back at ``dest`` (never over a file), record it, drop an unused blob.

        Permission bits are restored; set-uid, set-gid and sticky bits are not.
        """
        dest, facts = self.locate(dest)
        self.blobs.copy_out(entry.sha256, dest, mode=entry.mode & 0o777)
        restored = self.index.mark_restored(
            entry.id, at=self._clock(), by=by.label, to=facts["path"], approval_id=approval_id
        )
        self._record(
            restored,
            "restore",
            facts["path"],
            principal=by.label,
            mode=entry.mode_text,
            approval_id=approval_id,
        )
        if not self.index.holding(entry.sha256):
            self.blobs.remove(entry.sha256)
        return restored

    def _record(self, entry: QuarantineEntry, action: str, name: str, **fields: Any) -> int:
        appended = self.ledger.append(
            subjects=[Subject(name, entry.sha256)],
            predicate_type=QUARANTINE,
            predicate={"action": action, "id": entry.id, **fields},
        )
        return appended.index
