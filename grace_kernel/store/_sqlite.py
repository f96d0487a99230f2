"""SQLite connections in WAL mode, and translation of sqlite3 errors into StoreError."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from grace_kernel.errors import StoreError

__all__ = ["SQLiteTables", "connect_sqlite", "sqlite_errors"]

BUSY_TIMEOUT_MS = 10_000


@contextlib.contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn any ``sqlite3`` error raised inside the block into a :class:`StoreError`."""
    try:
        yield
    except sqlite3.Error as exc:  # DatabaseError, and ProgrammingError on a closed connection
        raise _translate(exc, path) from None


def _translate(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StoreError(
            f"database {path} is damaged: {text}",
            hint="keep the file for analysis; restore the ledger from an exported bundle",
        )
    if "locked" in lowered or "busy" in lowered:
        return StoreError(
            f"database {path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s: {text}"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"database {path} is not writable: {text}")
    if "closed database" in lowered:
        return StoreError(
            f"database {path} is offline: its connection was closed for recovery",
            hint="run `grace status`; the supervisor reopens it once the store is restored",
        )
    if "unable to open" in lowered:
        return StoreError(f"cannot open database {path}: {text}")
    return StoreError(f"database {path}: {text}")


def readonly_uri(path: Path) -> str:
    """A ``file:`` URI that SQLite opens read-only: no write can go through it."""
    return "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro"


def connect_sqlite(
    path: Path, *, synchronous: str = "NORMAL", readonly: bool = False
) -> sqlite3.Connection:
    """Open (creating if needed) a SQLite database in WAL mode with autocommit off-by-hand.

    Transactions are explicit (``BEGIN IMMEDIATE`` for writers), so the
    connection runs with ``isolation_level=None``.  ``readonly`` opens an
    existing database through a ``mode=ro`` URI (what code in a kernel may
    use: the runtime guard refuses any other connection to Grace's files).
    """
    if synchronous not in {"NORMAL", "FULL"}:
        raise ValueError(synchronous)
    if readonly:
        if not path.is_file():
            raise StoreError(f"no database at {path}", hint="run `grace init` first")
        with sqlite_errors(path):
            conn = sqlite3.connect(
                readonly_uri(path), uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            return conn
    with sqlite_errors(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"database {path} cannot use WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn


class SQLiteTables:
    """A subsystem's own tables in the workspace database.

    Creates the schema on open, serializes this process's use of the
    connection, runs writes in ``BEGIN IMMEDIATE`` transactions (rolled back on
    error), and translates every sqlite3 error into a :class:`StoreError`.
    """

    def __init__(self, path: Path, schema: str, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn = connect_sqlite(path, readonly=readonly)
        if not readonly:
            with sqlite_errors(path):
                self._conn.executescript(schema)

    def has_table(self, name: str) -> bool:
        """Whether ``name`` exists (a read-only reader never creates its tables)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
        return row is not None

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, sqlite_errors(self.path):
            yield self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, sqlite_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def offline(self) -> Iterator[None]:
        """Close the connection for the block (files may be replaced), then reopen it."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            try:
                yield
            finally:
                self._conn = connect_sqlite(self.path, readonly=self.readonly)

    def close(self) -> None:
        with self._lock, sqlite_errors(self.path):
            self._conn.close()
