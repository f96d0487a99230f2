"""Search over approved knowledge: BM25 (``bm25s``) over every searchable chunk.

The index is built in memory from the database and rebuilt only when the
knowledge tables' generation counter moves (any ingest, approval, rejection or
forget bumps it), so repeated searches in one process cost a query each.
A chunk is indexed with its heading trail and its document's title, so a
passage under "Installation" is found by "install".
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import bm25s  # type: ignore[import-untyped]  # no type hints shipped
import numpy as np

from grace_kernel.errors import InputError
from grace_kernel.knowledge._index import Document, KnowledgeIndex, StoredChunk

__all__ = ["BM25Search", "SearchHit", "tokenize_query"]

_STOPWORDS = "en"
MAX_RESULTS = 100


@dataclasses.dataclass(frozen=True, slots=True)
class SearchHit:
    """One passage: where it comes from, how far its source is trusted, and its signed record."""

    score: float
    doc_id: str
    seq: int
    source: str
    title: str
    heading: str
    text: str
    trust: float
    ledger_index: int
    sha256: str
    findings: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["score"] = round(self.score, 4)
        data["record"] = f"grace ledger show {self.ledger_index}"
        return data


def tokenize_query(text: str) -> list[str]:
    tokens = bm25s.tokenize([text], stopwords=_STOPWORDS, return_ids=False, show_progress=False)
    return [str(t) for t in tokens[0]]


def _document_text(doc: Document, chunk: StoredChunk) -> str:
    return f"{doc.title}\n{chunk.heading}\n{chunk.text or ''}"


class BM25Search:
    """A BM25 index over the searchable chunks, rebuilt when the knowledge tables change."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self._index = index
        self._lock = threading.Lock()
        self._generation = -1
        self._retriever: Any = None
        self._rows: list[tuple[Document, StoredChunk]] = []

    def _refresh(self) -> None:
        generation = self._index.generation()
        if generation == self._generation:
            return
        rows = self._index.searchable()
        retriever = None
        if rows:
            corpus = [_document_text(d, c) for d, c in rows]
            tokens = bm25s.tokenize(corpus, stopwords=_STOPWORDS, show_progress=False)
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
        self._retriever, self._rows, self._generation = retriever, rows, generation

    def search(self, query: str, *, k: int = 5) -> list[SearchHit]:
        if not query.strip():
            raise InputError("empty search query")
        if not 1 <= k <= MAX_RESULTS:
            raise InputError(f"the number of results must be between 1 and {MAX_RESULTS}")
        with self._lock:
            self._refresh()
            retriever, rows = self._retriever, self._rows
        if retriever is None:
            return []
        known = retriever.get_tokens_ids(tokenize_query(query))
        if not known:
            return []
        scores = np.asarray(retriever.get_scores_from_ids(known), dtype=np.float64)
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(top.tolist(), key=lambda i: (-scores[i], i))
        hits = []
        for i in ranked:
            if scores[i] <= 0:
                continue
            doc, chunk = rows[i]
            assert doc.ingest_index is not None  # searchable() returns recorded ones only
            hits.append(
                SearchHit(
                    score=float(scores[i]),
                    doc_id=doc.id,
                    seq=chunk.seq,
                    source=doc.source,
                    title=doc.title,
                    heading=chunk.heading,
                    text=chunk.text or "",
                    trust=doc.trust,
                    ledger_index=doc.ingest_index,
                    sha256=chunk.sha256,
                    findings=chunk.findings,
                )
            )
        return hits

    @property
    def size(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._rows)
