"""The knowledge index in the workspace database, and the blobs in ``.grace/knowledge``.

Tables: ``knowledge_documents`` (one row per stored version of a source),
``knowledge_chunks`` (its passages, with their text until it is forgotten),
``knowledge_feedback`` (people's votes per source) and ``knowledge_meta`` (a
generation counter that every write bumps, so search caches know when to
rebuild).  A document and all its chunks are inserted in one transaction.

Document states: ``pending`` (waiting for an approval, not searchable) →
``approved`` (searchable) → ``superseded`` (a newer version was approved) |
``rejected`` | ``forgotten`` (content removed, tombstone kept).  A row whose
``ledger_index`` is NULL has not been recorded yet (a crash between the
commit and the record); it is never searchable and the next ingestion of the
same content finishes it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grace_kernel.errors import InputError
from grace_kernel.store import SQLiteTables

__all__ = ["Document", "KnowledgeIndex", "StoredChunk"]

STATES = ("pending", "approved", "superseded", "rejected", "forgotten")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS knowledge_documents (
    id            TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    origin        TEXT NOT NULL,
    final_url     TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    text_sha256   TEXT NOT NULL,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    parser        TEXT NOT NULL,
    title         TEXT NOT NULL,
    fetched_at    REAL NOT NULL,
    published_at  REAL,
    trust         REAL NOT NULL,
    trust_detail  TEXT NOT NULL,
    findings      TEXT NOT NULL,
    state         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    previous_id   TEXT,
    principal     TEXT NOT NULL,
    decision_id   TEXT,
    approval_id   TEXT,
    ingest_index  INTEGER,
    ledger_index  INTEGER,
    decided_by    TEXT,
    decided_at    REAL,
    note          TEXT
);
CREATE INDEX IF NOT EXISTS knowledge_by_source ON knowledge_documents (source, version);
CREATE INDEX IF NOT EXISTS knowledge_by_state ON knowledge_documents (state);
CREATE TABLE IF NOT EXISTS knowledge_chunks (
    doc_id    TEXT NOT NULL REFERENCES knowledge_documents (id),
    seq       INTEGER NOT NULL,
    heading   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    text      TEXT,
    findings  TEXT NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
CREATE TABLE IF NOT EXISTS knowledge_feedback (
    source_key  TEXT NOT NULL,
    person      TEXT NOT NULL,
    value       INTEGER NOT NULL,
    doc_id      TEXT NOT NULL,
    at          REAL NOT NULL,
    PRIMARY KEY (source_key, person)
);
CREATE TABLE IF NOT EXISTS knowledge_meta (
    key    TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
"""

_DOC_COLUMNS = (
    "id, source, origin, final_url, sha256, text_sha256, size, content_type, parser, title,"
    " fetched_at, published_at, trust, trust_detail, findings, state, version, previous_id,"
    " principal, decision_id, approval_id, ingest_index, ledger_index, decided_by, decided_at,"
    " note"
)


@dataclasses.dataclass(frozen=True)
class Document:
    """One stored version of a source, as indexed."""

    id: str
    source: str
    origin: str  # file | url | api
    final_url: str
    sha256: str
    text_sha256: str
    size: int
    content_type: str
    parser: str
    title: str
    fetched_at: float
    published_at: float | None
    trust: float
    trust_detail: dict[str, Any]
    findings: list[dict[str, Any]]
    state: str
    version: int
    previous_id: str | None
    principal: str
    decision_id: str | None = None
    approval_id: str | None = None
    ingest_index: int | None = None
    ledger_index: int | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    note: str | None = None

    @property
    def searchable(self) -> bool:
        return self.state == "approved" and self.ingest_index is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class StoredChunk:
    doc_id: str
    seq: int
    heading: str
    kind: str
    sha256: str
    text: str | None
    findings: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _doc(row: Sequence[Any]) -> Document:
    values = list(row)
    values[13] = json.loads(values[13])
    values[14] = json.loads(values[14])
    return Document(*values)


def _chunk(row: Sequence[Any]) -> StoredChunk:
    return StoredChunk(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))


class KnowledgeIndex(SQLiteTables):
    """The knowledge tables of the workspace database (``readonly`` for the kernel's searches)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(path, _SCHEMA, readonly=readonly)

    def has_tables(self) -> bool:
        return self.has_table("knowledge_chunks")

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO knowledge_meta (key, value) VALUES ('generation', 1)"
            " ON CONFLICT (key) DO UPDATE SET value = value + 1"
        )

    def generation(self) -> int:
        if self.readonly and not self.has_tables():
            return 0
        with self._read() as conn:
            row = conn.execute(
                "SELECT value FROM knowledge_meta WHERE key = 'generation'"
            ).fetchone()
        return 0 if row is None else int(row[0])

    # ------------------------------------------------------------------ documents

    def insert(
        self, doc: Document, chunks: Sequence[tuple[str, str, str, str, list[dict[str, Any]]]]
    ) -> Document:
        """Insert a document and its chunks ``(heading, kind, sha256, text, findings)`` at once."""
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO knowledge_documents ({_DOC_COLUMNS}) VALUES"  # noqa: S608  # fixed columns
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.id,
                    doc.source,
                    doc.origin,
                    doc.final_url,
                    doc.sha256,
                    doc.text_sha256,
                    doc.size,
                    doc.content_type,
                    doc.parser,
                    doc.title,
                    doc.fetched_at,
                    doc.published_at,
                    doc.trust,
                    json.dumps(doc.trust_detail, sort_keys=True),
                    json.dumps(doc.findings, sort_keys=True),
                    doc.state,
                    doc.version,
                    doc.previous_id,
                    doc.principal,
                    doc.decision_id,
                    doc.approval_id,
                    doc.ingest_index,
                    doc.ledger_index,
                    doc.decided_by,
                    doc.decided_at,
                    doc.note,
                ),
            )
            conn.executemany(
                "INSERT INTO knowledge_chunks (doc_id, seq, heading, kind, sha256, text, findings)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (doc.id, seq, heading, kind, digest, text, json.dumps(found, sort_keys=True))
                    for seq, (heading, kind, digest, text, found) in enumerate(chunks)
                ],
            )
            self._bump(conn)
        return doc

    def get(self, doc_id: str) -> Document:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM knowledge_documents WHERE id = ?",  # noqa: S608  # fixed columns
                (doc_id,),
            ).fetchone()
        if row is None:
            raise InputError(
                f"no knowledge document {doc_id!r}", hint="`grace knowledge list` shows them"
            )
        return _doc(row)

    def latest(self, source: str) -> Document | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM knowledge_documents WHERE source = ?"  # noqa: S608  # fixed columns
                " ORDER BY version DESC LIMIT 1",
                (source,),
            ).fetchone()
        return None if row is None else _doc(row)

    def documents(self, *, state: str | None = None) -> list[Document]:
        if state is not None and state not in STATES:
            raise InputError(f"state must be one of {', '.join(STATES)}")
        query = f"SELECT {_DOC_COLUMNS} FROM knowledge_documents"  # noqa: S608  # fixed columns
        args: tuple[Any, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            args = (state,)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY fetched_at DESC, id", args).fetchall()
        return [_doc(r) for r in rows]

    def chunks(self, doc_id: str) -> list[StoredChunk]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT doc_id, seq, heading, kind, sha256, text, findings FROM knowledge_chunks"
                " WHERE doc_id = ? ORDER BY seq",
                (doc_id,),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def searchable(self) -> list[tuple[Document, StoredChunk]]:
        """Every chunk of every approved, recorded document (what search indexes)."""
        if self.readonly and not self.has_tables():
            return []
        with self._read() as conn:
            docs = {
                row[0]: _doc(row)
                for row in conn.execute(
                    f"SELECT {_DOC_COLUMNS} FROM knowledge_documents"  # noqa: S608  # fixed columns
                    " WHERE state = 'approved' AND ingest_index IS NOT NULL"
                )
            }
            rows = conn.execute(
                "SELECT c.doc_id, c.seq, c.heading, c.kind, c.sha256, c.text, c.findings"
                " FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.doc_id"
                " WHERE d.state = 'approved' AND d.ingest_index IS NOT NULL"
                " AND c.text IS NOT NULL ORDER BY c.doc_id, c.seq"
            ).fetchall()
        return [(docs[r[0]], _chunk(r)) for r in rows]

    def update(
        self, doc_id: str, *, expect: tuple[str, ...] | None = None, **fields: Any
    ) -> Document:
        """Set columns of one document (optionally only from the states in ``expect``)."""
        allowed = {"state", "ledger_index", "ingest_index", "decided_by", "decided_at", "note"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot update {sorted(set(fields) - allowed)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        query = f"UPDATE knowledge_documents SET {assignments} WHERE id = ?"  # noqa: S608  # names from the allow-list
        args: list[Any] = [*fields.values(), doc_id]
        if expect is not None:
            query += f" AND state IN ({','.join('?' * len(expect))})"
            args.extend(expect)
        with self._write() as conn:
            changed = conn.execute(query, args).rowcount
            self._bump(conn)
        current = self.get(doc_id)
        if not changed:
            raise InputError(f"knowledge document {doc_id} is {current.state}")
        return current

    def forget_content(self, doc_id: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE knowledge_chunks SET text = NULL WHERE doc_id = ?", (doc_id,))
            self._bump(conn)

    def blob_users(self, sha256: str) -> int:
        """How many documents that still hold content use this blob (as source or text)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM knowledge_documents WHERE state != 'forgotten'"
                " AND (sha256 = ? OR text_sha256 = ?)",
                (sha256, sha256),
            ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ feedback

    def vote(self, *, source_key: str, person: str, value: int, doc_id: str, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO knowledge_feedback (source_key, person, value, doc_id, at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_key, person) DO UPDATE SET"
                " value = excluded.value, doc_id = excluded.doc_id, at = excluded.at",
                (source_key, person, value, doc_id, now),
            )

    def feedback(self, source_key: str) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(value), 0) FROM knowledge_feedback WHERE source_key = ?",
                (source_key,),
            ).fetchone()
        return int(row[0])


def new_id() -> str:
    return f"k-{secrets.token_hex(5)}"
