"""Knowledge: governed, trust-scored, Hunter-scanned ingestion into a signed, searchable store.

- :class:`KnowledgeBase` — ``ingest`` files and URLs, ``ingest_api`` (a JSON
  endpoint and a path to its items), review (``approve``, ``reject``,
  ``forget``, ``feedback``) and ``search`` (BM25 over approved passages);
- :func:`search_readonly` — the same search over a read-only connection (what
  a notebook kernel may use);
- trust: :class:`TrustCatalog` (``data/trusted_sources.yaml`` plus the
  workspace's ``.grace/trusted_sources.yaml``), the :class:`TrustModel`
  protocol and today's :class:`HeuristicTrustModel`, :class:`Evidence`,
  :class:`TrustScore` with one :class:`Signal` per reason;
- :class:`FetchLimits` — size, time and redirect bounds for every fetch.

Every fetch is a governed ``file.read``, ``net.connect`` or ``api.call``;
every item a governed ``knowledge.ingest`` decided by its trust score and
Hunter's findings; every stored version, approval, rejection and forget is a
signed ``urn:grace:predicate:knowledge-ingest:v1`` record.  See docs/knowledge.md.
"""

from grace_kernel.knowledge._fetch import FetchLimits
from grace_kernel.knowledge._index import Document, StoredChunk
from grace_kernel.knowledge._ingest import (
    KNOWLEDGE_INGEST,
    IngestOutcome,
    KnowledgeBase,
    search_readonly,
    select_items,
)
from grace_kernel.knowledge._search import SearchHit
from grace_kernel.knowledge._trust import (
    CatalogEntry,
    Evidence,
    HeuristicTrustModel,
    Signal,
    TrustCatalog,
    TrustModel,
    TrustScore,
)

__all__ = [
    "KNOWLEDGE_INGEST",
    "CatalogEntry",
    "Document",
    "Evidence",
    "FetchLimits",
    "HeuristicTrustModel",
    "IngestOutcome",
    "KnowledgeBase",
    "SearchHit",
    "Signal",
    "StoredChunk",
    "TrustCatalog",
    "TrustModel",
    "TrustScore",
    "search_readonly",
    "select_items",
]
