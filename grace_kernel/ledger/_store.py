"""The ledger's storage seam: what the writer needs from a database, and two implementations.

Nothing here is trusted by verification: stored leaf hashes and tree nodes only
serve proofs quickly, and every proof is checked against a signed root.
:class:`SQLiteLedgerStore` is the embedded default; :class:`MemoryLedgerStore`
is the fake for unit tests.  A team database (PostgreSQL) implements the same
protocol.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from grace_kernel.errors import StoreError
from grace_kernel.store import connect_sqlite, readonly_uri, sqlite_errors

__all__ = [
    "KeyInfo",
    "LedgerStore",
    "LedgerTxn",
    "MemoryLedgerStore",
    "SQLiteLedgerStore",
    "StoredCheckpoint",
]

SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    note: str
    created_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class KeyInfo:
    """A signing key as the log describes it (indices are log positions)."""

    keyid: str
    name: str
    public_key: bytes
    added_at: int
    retired_at: int | None = None
    revoked_at: int | None = None
    revocation_reason: str | None = None

    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.retired_at is not None:
            return "retired"
        return "active"


class LedgerTxn(Protocol):
    """One transaction: a consistent view, and (for writers) exclusive appends."""

    def size(self) -> int: ...
    def last_leaf(self) -> bytes | None: ...
    def perfect(self, level: int, index: int) -> bytes: ...
    def envelope(self, index: int) -> bytes: ...
    def add_entry(
        self, index: int, envelope: bytes, leaf: bytes, nodes: list[tuple[int, int, bytes]]
    ) -> None: ...
    def latest_checkpoint(self) -> StoredCheckpoint | None: ...
    def checkpoint_at(self, size: int) -> StoredCheckpoint | None: ...
    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def put_key(self, info: KeyInfo) -> None: ...
    def list_keys(self) -> list[KeyInfo]: ...


class LedgerStore(Protocol):
    location: str

    def read(self) -> contextlib.AbstractContextManager[LedgerTxn]: ...
    def write(self) -> contextlib.AbstractContextManager[LedgerTxn]: ...
    def iter_envelopes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]: ...
    def checkpoints(self) -> list[StoredCheckpoint]: ...
    def close(self) -> None: ...


# --------------------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_entries (
    idx       INTEGER PRIMARY KEY,
    envelope  BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size       INTEGER PRIMARY KEY,
    note       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_keys (
    keyid             TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    public_key        BLOB NOT NULL,
    added_at          INTEGER NOT NULL,
    retired_at        INTEGER,
    revoked_at        INTEGER,
    revocation_reason TEXT
);
CREATE TABLE IF NOT EXISTS grace_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class _Tail:
    """What a writer reads on every append, cached between transactions of one connection.

    Valid while ``PRAGMA data_version`` is unchanged, i.e. while no other
    connection has committed; any rollback drops it.
    """

    __slots__ = ("checkpoint", "checkpoint_loaded", "last_leaf", "meta", "right", "size")

    def __init__(self, size: int, last_leaf: bytes | None) -> None:
        self.size = size
        self.last_leaf = last_leaf
        self.right: dict[int, tuple[int, bytes]] = {}  # level -> newest (index, hash)
        self.meta: dict[str, str | None] = {}
        self.checkpoint: StoredCheckpoint | None = None
        self.checkpoint_loaded = False


class _SQLiteTxn:
    """One transaction.  New rows are buffered and written with one ``executemany``
    each at commit (or before any read that needs them), so a batch of appends
    costs one statement execution per table instead of two per record.
    """

    __slots__ = ("_conn", "_entries", "_nodes", "_path", "_tail")

    def __init__(self, conn: sqlite3.Connection, path: Path, tail: _Tail) -> None:
        self._conn = conn
        self._path = path
        self._tail = tail
        self._entries: list[tuple[int, bytes, bytes]] = []
        self._nodes: list[tuple[int, int, bytes]] = []

    def flush(self) -> None:
        if self._entries:
            self._conn.executemany(
                "INSERT INTO ledger_entries (idx, envelope, leaf_hash) VALUES (?, ?, ?)",
                self._entries,
            )
            self._entries.clear()
        if self._nodes:
            self._conn.executemany(
                "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", self._nodes
            )
            self._nodes.clear()

    def size(self) -> int:
        return self._tail.size

    def last_leaf(self) -> bytes | None:
        return self._tail.last_leaf

    def perfect(self, level: int, index: int) -> bytes:
        cached = self._tail.right.get(level)
        if cached is not None and cached[0] == index:
            return cached[1]
        self.flush()
        if level == 0:
            row = self._conn.execute(
                "SELECT leaf_hash FROM ledger_entries WHERE idx = ?", (index,)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", (level, index)
            ).fetchone()
        if row is None:
            raise StoreError(
                f"database {self._path} lacks tree node ({level}, {index})",
                hint="the file was edited or truncated; run `grace verify`",
            )
        return bytes(row[0])

    def envelope(self, index: int) -> bytes:
        self.flush()
        row = self._conn.execute(
            "SELECT envelope FROM ledger_entries WHERE idx = ?", (index,)
        ).fetchone()
        if row is None:
            raise StoreError(f"database {self._path} has no record {index}")
        return bytes(row[0])

    def add_entry(
        self, index: int, envelope: bytes, leaf: bytes, nodes: list[tuple[int, int, bytes]]
    ) -> None:
        if index != self._tail.size:
            raise StoreError(f"append at {index}, but the ledger has {self._tail.size} records")
        self._entries.append((index, envelope, leaf))
        self._nodes.extend(nodes)
        tail = self._tail
        tail.size = index + 1
        tail.last_leaf = leaf
        tail.right[0] = (index, leaf)
        for level, idx, h in nodes:
            tail.right[level] = (idx, h)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        tail = self._tail
        if not tail.checkpoint_loaded:
            row = self._conn.execute(
                "SELECT size, note, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
            tail.checkpoint = (
                None if row is None else StoredCheckpoint(int(row[0]), row[1], float(row[2]))
            )
            tail.checkpoint_loaded = True
        return tail.checkpoint

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        row = self._conn.execute(
            "SELECT size, note, created_at FROM ledger_checkpoints WHERE size = ?", (size,)
        ).fetchone()
        return None if row is None else StoredCheckpoint(int(row[0]), row[1], float(row[2]))

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO ledger_checkpoints (size, note, created_at) VALUES (?, ?, ?)",
            (checkpoint.size, checkpoint.note, checkpoint.created_at),
        )
        latest = self.latest_checkpoint()
        if latest is None or checkpoint.size >= latest.size:
            self._tail.checkpoint = checkpoint

    def get_meta(self, key: str) -> str | None:
        meta = self._tail.meta
        if key not in meta:
            row = self._conn.execute(
                "SELECT value FROM grace_meta WHERE key = ?", (key,)
            ).fetchone()
            meta[key] = None if row is None else str(row[0])
        return meta[key]

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO grace_meta (key, value) VALUES (?, ?)", (key, value)
        )
        self._tail.meta[key] = value

    def put_key(self, info: KeyInfo) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO ledger_keys (keyid, name, public_key, added_at, retired_at,"
            " revoked_at, revocation_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                info.keyid,
                info.name,
                info.public_key,
                info.added_at,
                info.retired_at,
                info.revoked_at,
                info.revocation_reason,
            ),
        )

    def list_keys(self) -> list[KeyInfo]:
        rows = self._conn.execute(
            "SELECT keyid, name, public_key, added_at, retired_at, revoked_at, revocation_reason"
            " FROM ledger_keys ORDER BY added_at"
        ).fetchall()
        return [KeyInfo(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6]) for r in rows]


class SQLiteLedgerStore:
    """The ledger's tables in one SQLite file (WAL mode).

    Writers take ``BEGIN IMMEDIATE``, so appends from several processes are
    serialized by SQLite itself; each ``write()`` block is one commit.
    """

    def __init__(self, path: Path, *, sync: str = "normal", readonly: bool = False) -> None:
        self.path = path
        self.location = str(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._tail: _Tail | None = None
        self._tail_version: int | None = None
        self._sync = sync.upper()
        self._conn = connect_sqlite(path, synchronous=self._sync, readonly=readonly)
        with sqlite_errors(path):
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self._conn.close()
                raise StoreError(
                    f"database {path} was written by a newer Grace (schema {version})",
                    hint="upgrade Grace to open this workspace",
                )
            if version < SCHEMA_VERSION and readonly:
                self._conn.close()
                raise StoreError(f"database {path} is not an initialized Grace ledger")
            if version < SCHEMA_VERSION:
                self._conn.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[LedgerTxn]:
        with self._lock, sqlite_errors(self.path):
            conn = self._conn
            conn.execute(begin)
            try:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                tail = self._tail if version == self._tail_version else None
                if tail is None:
                    tail = self._tail = self._load_tail()
                    self._tail_version = version
                txn = _SQLiteTxn(conn, self.path, tail)
                yield txn
                txn.flush()
            except BaseException:
                self._tail = None
                self._tail_version = None
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _load_tail(self) -> _Tail:
        row = self._conn.execute(
            "SELECT idx, leaf_hash FROM ledger_entries ORDER BY idx DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return _Tail(0, None)
        return _Tail(int(row[0]) + 1, bytes(row[1]))

    def read(self) -> contextlib.AbstractContextManager[LedgerTxn]:
        return self._transaction("BEGIN")

    def write(self) -> contextlib.AbstractContextManager[LedgerTxn]:
        return self._transaction("BEGIN IMMEDIATE")

    def iter_envelopes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Stored envelope bytes in index order, read from one snapshot on a private connection."""
        with sqlite_errors(self.path):
            target, uri = (readonly_uri(self.path), True) if self.readonly else (self.path, False)
            conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("BEGIN")
                query = "SELECT envelope FROM ledger_entries WHERE idx >= ? ORDER BY idx"
                args: tuple[int, ...] = (start,)
                if stop is not None:
                    query = query.replace("ORDER BY", "AND idx < ? ORDER BY")
                    args = (start, stop)
                cursor = conn.execute(query, args)
                while rows := cursor.fetchmany(4096):
                    for (blob,) in rows:
                        yield bytes(blob)
                conn.execute("COMMIT")
            finally:
                conn.close()

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self._lock, sqlite_errors(self.path):
            rows = self._conn.execute(
                "SELECT size, note, created_at FROM ledger_checkpoints ORDER BY size"
            ).fetchall()
        return [StoredCheckpoint(int(r[0]), r[1], float(r[2])) for r in rows]

    @contextlib.contextmanager
    def offline(self) -> Iterator[None]:
        """Close the connection for the block (the file may be replaced), then reopen it."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._tail = None
            self._tail_version = None
            try:
                yield
            finally:
                self._conn = connect_sqlite(
                    self.path, synchronous=self._sync, readonly=self.readonly
                )

    def close(self) -> None:
        with self._lock, sqlite_errors(self.path):
            self._conn.close()


# --------------------------------------------------------------------------- memory


class _MemoryTxn:
    def __init__(self, store: MemoryLedgerStore) -> None:
        self._s = store

    def size(self) -> int:
        return len(self._s.entries)

    def last_leaf(self) -> bytes | None:
        return self._s.entries[-1][1] if self._s.entries else None

    def perfect(self, level: int, index: int) -> bytes:
        if level == 0:
            return self._s.entries[index][1]
        return self._s.nodes[(level, index)]

    def envelope(self, index: int) -> bytes:
        return self._s.entries[index][0]

    def add_entry(
        self, index: int, envelope: bytes, leaf: bytes, nodes: list[tuple[int, int, bytes]]
    ) -> None:
        if index != len(self._s.entries):
            raise StoreError(f"memory store: append at {index} but size is {len(self._s.entries)}")
        self._s.entries.append((envelope, leaf))
        for level, idx, h in nodes:
            self._s.nodes[(level, idx)] = h

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        cps = self._s.checkpoints_by_size
        return cps[max(cps)] if cps else None

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        return self._s.checkpoints_by_size.get(size)

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        self._s.checkpoints_by_size[checkpoint.size] = checkpoint

    def get_meta(self, key: str) -> str | None:
        return self._s.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._s.meta[key] = value

    def put_key(self, info: KeyInfo) -> None:
        self._s.key_infos[info.keyid] = info

    def list_keys(self) -> list[KeyInfo]:
        return sorted(self._s.key_infos.values(), key=lambda k: k.added_at)


class MemoryLedgerStore:
    """In-memory fake of :class:`LedgerStore` for unit tests (no rollback on error)."""

    location = ":memory:"

    def __init__(self) -> None:
        self.entries: list[tuple[bytes, bytes]] = []
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.checkpoints_by_size: dict[int, StoredCheckpoint] = {}
        self.meta: dict[str, str] = {}
        self.key_infos: dict[str, KeyInfo] = {}
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _txn(self) -> Iterator[LedgerTxn]:
        with self._lock:
            yield _MemoryTxn(self)

    def read(self) -> contextlib.AbstractContextManager[LedgerTxn]:
        return self._txn()

    def write(self) -> contextlib.AbstractContextManager[LedgerTxn]:
        return self._txn()

    def iter_envelopes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        for envelope, _ in self.entries[start:stop]:
            yield envelope

    def checkpoints(self) -> list[StoredCheckpoint]:
        return [self.checkpoints_by_size[s] for s in sorted(self.checkpoints_by_size)]

    def close(self) -> None:
        return None
