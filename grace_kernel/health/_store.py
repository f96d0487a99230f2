"""The ledger store's health: probe the SQLite file, keep a verified backup, restore from it.

The probe uses a fresh connection each time (the workspace's own connection
may still point at a file that was replaced): the file exists and is marked
writable, opens as SQLite, takes a write lock within a short busy timeout (a
lock held by another process is reported, never waited out), accepts a write
(rolled back), passes ``PRAGMA quick_check`` (throttled), and the disk has room.

Recovery never discards the ledger.  A damaged file is copied aside with a
timestamp, the newest *verified* backup (an online ``sqlite3`` backup that
passed :func:`verify_store` before it replaced the previous one) is put in its
place, any records still readable through the old connection are replayed
on top, and a signed record states what, if anything, was lost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grace_kernel.config import Settings
from grace_kernel.errors import GraceEnvironmentError, GraceError, IntegrityError
from grace_kernel.health._checks import result
from grace_kernel.health._model import CheckResult, Health
from grace_kernel.health._records import STORE_RESTORE, append_health_record
from grace_kernel.ledger import FileWitness, SQLiteLedgerStore
from grace_kernel.store import readonly_uri
from grace_kernel.workspace import Workspace, file_subject, verify_store

__all__ = ["StoreKeeper", "restore_unopened", "unopenable"]

_DAMAGED = ("not a database", "malformed", "corrupt")
_MAGIC = b"SQLite format 3\x00"
BACKUP_NAME = "backup/grace.db"


def _stamp(wall: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall))


def _fsync_copy(source: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(source, tmp)
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    tmp.replace(dest)


def _copy_in_child(source: Path, dest: Path) -> None:
    """Copy ``source`` in a child process: fcntl locks are per process, so a file this
    process opens and closes itself would release locks its SQLite connections hold."""
    code = "import shutil, sys; shutil.copy2(sys.argv[1], sys.argv[2])"
    subprocess.run(
        [sys.executable, "-c", code, str(source), str(dest)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _require_backup(path: Path, backup: Path) -> None:
    if not backup.is_file():
        raise IntegrityError(
            f"{path} is damaged and there is no verified backup to restore",
            hint="the damaged file is left in place; restore the ledger from an exported "
            "bundle (`grace ledger export` output) or a copy of .grace",
        )


def _swap(
    path: Path, backup: Path, stamp: str, offline: contextlib.AbstractContextManager[None]
) -> list[Path]:
    """Copy the damaged files aside, then (connections closed) put the backup in place."""
    kept: list[Path] = []
    for suffix in ("", "-wal"):  # before closing: a close may checkpoint into the file
        source = path.with_name(path.name + suffix)
        if source.exists():
            aside = path.with_name(f"{path.name}.damaged-{stamp}{suffix}")
            _copy_in_child(source, aside)
            kept.append(aside)
    with offline:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        _fsync_copy(backup, path)
    return kept


def unopenable(settings: Settings) -> str | None:
    """Why the database cannot be opened at all (missing, or not SQLite), else None.

    Only for a process with no connection to it yet (see :meth:`StoreKeeper._file_fault`).
    """
    try:
        with settings.db_path.open("rb") as handle:
            header = handle.read(len(_MAGIC))
    except FileNotFoundError:
        return f"database {settings.db_path} is missing"
    if header != _MAGIC:
        return f"{settings.db_path} is not a SQLite database (its header is gone)"
    return None


def restore_unopened(settings: Settings, *, wall: float | None = None) -> tuple[str, list[Path]]:
    """Put the verified backup in place of a database too damaged to open a workspace on.

    Returns the timestamp and the kept damaged files; once the workspace opens,
    :meth:`StoreKeeper.finish_restore` verifies and records it.
    """
    path, backup = settings.db_path, settings.home / BACKUP_NAME
    _require_backup(path, backup)
    stamp = _stamp(time.time() if wall is None else wall)
    return stamp, _swap(path, backup, stamp, contextlib.nullcontext())


class StoreKeeper:
    """Checks, backs up and restores a workspace's SQLite ledger store."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        name: str = "store",
        busy_timeout: float = 0.25,
        integrity_every: float = 60.0,
        backup_every: float = 300.0,
        min_free_bytes: int = 100 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.workspace = workspace
        self.name = name
        self.path = workspace.settings.db_path
        self.backup_path = workspace.settings.home / BACKUP_NAME
        self.busy_timeout, self.integrity_every = busy_timeout, integrity_every
        self.backup_every, self.min_free_bytes = backup_every, min_free_bytes
        self._clock, self._wall = clock, wall
        self._next_integrity = 0.0
        self._next_backup = 0.0
        self.known_size: int | None = None  # the ledger's size at the last good probe
        self.backup_size: int | None = None
        self.last: CheckResult | None = None
        self._fd: int | None = None  # kept open: see _file_fault
        self._inode = 0

    # ------------------------------------------------------------------ probe

    def check(self) -> CheckResult:
        self.last = found = self._probe()
        return found

    def _failed(self, detail: str, *, untrusted: bool = False) -> CheckResult:
        return result(self.name, Health.FAILED, detail, untrusted=untrusted)

    def _probe(self) -> CheckResult:
        # Only stat(): opening and closing the file here would drop every POSIX lock
        # this process's SQLite connections hold on it (fcntl locks are per process).
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return self._failed(f"database {self.path} is missing", untrusted=True)
        except OSError as exc:
            return self._failed(f"cannot stat {self.path}: {exc.strerror}")
        fault = self._file_fault()
        if fault is not None:
            return self._failed(f"{self.path} {fault}", untrusted=True)
        if not mode & 0o222:
            return self._failed(f"{self.path} is not writable (mode {mode & 0o777:04o})")
        conn = sqlite3.connect(  # mode=rw: never create a missing file
            readonly_uri(self.path).replace("?mode=ro", "?mode=rw"),
            uri=True,
            isolation_level=None,
            timeout=self.busy_timeout,
        )
        try:
            return self._probe_sql(conn)
        except sqlite3.Error as exc:
            text = str(exc)
            if any(word in text.lower() for word in _DAMAGED):
                return self._failed(f"{self.path} is damaged: {text}", untrusted=True)
            if "locked" in text.lower() or "busy" in text.lower():
                return self._failed(
                    f"{self.path} is locked by another process "
                    f"(no write lock within {self.busy_timeout:g} s)"
                )
            return self._failed(f"{self.path}: {text}")
        finally:
            conn.close()

    def _file_fault(self) -> str | None:
        """The file's own header, read through a descriptor this keeper never closes.

        SQLite reads recent pages from the WAL, so a connection does not notice
        garbage written over the main file until a checkpoint; the header does.
        The descriptor stays open because closing any descriptor of the file
        would drop the POSIX locks this process's SQLite connections hold on it.
        A changed inode means the file was replaced under the open connections.
        """
        inode = self.path.stat().st_ino
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
            self._inode = os.fstat(self._fd).st_ino
        if inode != self._inode:
            return "was replaced under Grace's open connections (another file now)"
        if os.pread(self._fd, len(_MAGIC), 0) != _MAGIC:
            return "is not a SQLite database (its header is gone)"
        return None

    def close(self) -> None:
        """Release the header descriptor (after the workspace's connections are closed)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _probe_sql(self, conn: sqlite3.Connection) -> CheckResult:
        size = int(
            conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM ledger_entries").fetchone()[0]
        )
        if self.known_size is not None and size < self.known_size:
            return self._failed(
                f"the ledger shrank from {self.known_size} to {size} records", untrusted=True
            )
        now = self._clock()
        if now >= self._next_integrity:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            if rows != ["ok"]:
                return self._failed(f"quick_check: {'; '.join(map(str, rows[:3]))}", untrusted=True)
            self._next_integrity = now + self.integrity_every
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT OR REPLACE INTO grace_meta (key, value) VALUES ('health.probe', ?)",
                (str(self._wall()),),
            )
        finally:
            conn.execute("ROLLBACK")
        self.known_size = size
        free = shutil.disk_usage(self.path.parent).free
        detail = f"{size} records, {free // (1024 * 1024)} MiB free"
        if free < self.min_free_bytes:
            return result(self.name, Health.DEGRADED, f"low disk space: {detail}")
        return result(self.name, Health.OK, detail)

    # ------------------------------------------------------------------ backup

    def backup(self, *, force: bool = False) -> bool:
        """Take a verified online backup if one is due; True when a new one was kept.

        Due at once, then every ``backup_every`` seconds.  The copy is verified
        (records, checkpoints, witness) before it replaces the previous backup,
        so the backup is always a verified state.
        """
        now = self._clock()
        if not (force or now >= self._next_backup):
            return False
        self.backup_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.backup_path.with_name("grace.db.partial")
        tmp.unlink(missing_ok=True)
        source = sqlite3.connect(readonly_uri(self.path), uri=True, timeout=self.busy_timeout)
        try:
            dest = sqlite3.connect(tmp)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dest.close()
        finally:
            source.close()
        copy = SQLiteLedgerStore(tmp, readonly=True)
        try:
            report = verify_store(copy, self.workspace.settings)
        finally:
            copy.close()
        if not report.ok:
            tmp.unlink(missing_ok=True)
            raise IntegrityError(
                f"a backup of {self.path} did not verify: {report.problem}",
                hint="the previous backup is kept; run `grace verify`",
            )
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(self.backup_path)
        self.backup_size = report.size
        self._next_backup = now + self.backup_every
        return True

    # ------------------------------------------------------------------ restore

    def restart(self) -> None:
        """What restarting the store means: restore a damaged file; anything else
        (a lock, a permission, a full disk) is the operator's to fix."""
        last = self.last or self.check()
        if last.ok or last.health is Health.DEGRADED:
            return
        if not last.untrusted:
            raise GraceEnvironmentError(
                f"Grace cannot fix this store fault itself: {last.detail}",
                hint="release the lock, restore the file's permissions or free disk space; "
                "the supervisor notices when it is fixed",
            )
        self.restore(reason=last.detail)

    def restore(self, *, reason: str) -> dict[str, Any]:
        """Keep the damaged file aside, restore the verified backup, replay what survives."""
        _require_backup(self.path, self.backup_path)
        start, salvaged = self._salvage()
        stamp = _stamp(self._wall())
        kept = _swap(self.path, self.backup_path, stamp, self.workspace.store_offline())
        self.close()  # the old inode's descriptor: its locks no longer matter
        return self.finish_restore(
            reason=reason, stamp=stamp, kept=kept, salvaged=(start, salvaged)
        )

    def finish_restore(
        self,
        *,
        reason: str,
        stamp: str,
        kept: list[Path],
        salvaged: tuple[int, list[bytes]] = (0, []),
    ) -> dict[str, Any]:
        """After the backup is in place: replay, settle the witness, verify, record the gap."""
        start, envelopes = salvaged
        ledger = self.workspace.ledger
        restored = ledger.size
        replayed = 0
        if envelopes and restored >= start:
            with contextlib.suppress(GraceError):  # unreadable or not a continuation: none
                replayed = ledger.replay(envelopes[restored - start :])
        size = ledger.size
        witness = FileWitness(self.workspace.settings.witness_path)
        seen = witness.read()
        lost_to = max(self.known_size or 0, seen.size if seen else 0)
        witness_kept = None
        if seen is not None and seen.size > size:
            witness_kept = self._witness_aside(witness, stamp)
        report = verify_store(ledger.store, self.workspace.settings)
        if not report.ok:
            raise IntegrityError(f"the restored ledger does not verify: {report.problem}")
        gap = None if lost_to <= size else {"from": size, "to": lost_to}
        predicate = {
            "reason": reason,
            "damaged_files": [str(p) for p in kept],
            "damaged_sha256": file_subject(kept[0]).sha256 if kept else None,
            "backup": str(self.backup_path),
            "backup_size": restored,
            "replayed": replayed,
            "size": size,
            "lost": gap,
            "witness_kept": witness_kept,
        }
        entry = append_health_record(ledger, STORE_RESTORE, f"store:{self.path.name}", predicate)
        ledger.checkpoint()
        self.known_size = ledger.size
        self._next_integrity = 0.0
        self.last = None
        return {**predicate, "ledger_index": entry.index}

    def _salvage(self) -> tuple[int, list[bytes]]:
        """Records the workspace's open connection can still read beyond the backup.

        When the file was replaced by rename, that connection still reads the
        old (good) file: everything acknowledged through it is recovered.
        Returns the backup's size and the envelopes from there on.
        """
        backup = SQLiteLedgerStore(self.backup_path, readonly=True)
        try:
            with backup.read() as txn:
                start = txn.size()
        finally:
            backup.close()
        envelopes: list[bytes] = []
        with contextlib.suppress(GraceError), self.workspace.ledger.store.read() as txn:
            envelopes = [txn.envelope(i) for i in range(start, txn.size())]
        return start, envelopes

    def _witness_aside(self, witness: FileWitness, stamp: str) -> str:
        """The witness saw records that are gone: keep it, and restart it from the restored log."""
        aside = witness.path.with_name(f"{witness.path.name}.before-restore-{stamp}")
        witness.path.replace(aside)
        latest = self.workspace.ledger.latest_checkpoint()
        if latest is not None:
            witness.advance(latest)
        return str(aside)
