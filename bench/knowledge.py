"""Knowledge ingestion and search, in one run:

    python bench/knowledge.py [--files N] [--chunks N] [--queries N] [--json]

- ingestion from local files: ``KnowledgeBase.ingest`` over N generated Markdown
  files in a fresh workspace (each one a governed ``file.read``, parse, chunk,
  Hunter scan, trust score, a governed ``knowledge.ingest`` and a signed record);
  items/s, against the anchor of the same files merely read, parsed and chunked
  (what any indexer pays before Grace's scanning, governance and signing);
- search latency over 10,000 approved chunks: ``KnowledgeBase.search`` (BM25
  via bm25s, index warm) against a plain-Python BM25 over the same tokens (the
  baseline: a dict-of-postings scorer, no numpy), p50 and p99 per query, and
  the ratio.

Targets (issue 10, beside the figures; never asserted): >= 20 items/s ingested,
search p99 <= 50 ms over 10,000 chunks, bm25s >= 5x the plain-Python baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from grace_kernel import Settings, Workspace
from grace_kernel.governance import Principal
from grace_kernel.knowledge import KnowledgeBase
from grace_kernel.knowledge._chunk import chunk_text
from grace_kernel.knowledge._index import Document, new_id
from grace_kernel.knowledge._parse import parse
from grace_kernel.knowledge._search import tokenize_query

_VOCABULARY = (
    "gadget widget sprocket flange torque calibrate bearing spindle lathe gauge valve "
    "piston rotor stator coil relay sensor actuator servo encoder ledger policy cedar "
    "kernel notebook approval signature merkle checkpoint witness bundle digest envelope "
    "statement predicate subject verify rotate revoke quarantine sandbox hunter finding "
    "rule severity confidence trust catalog source publisher search passage chunk heading "
    "version tombstone"
)
WORDS = _VOCABULARY.split()


def sentence(rng: random.Random, n: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def markdown(rng: random.Random, sections: int = 4) -> str:
    parts = [f"# {sentence(rng, 4)}"]
    for _ in range(sections):
        parts.append(f"## {sentence(rng, 3)}")
        parts.append(" ".join(sentence(rng) for _ in range(6)))
    return "\n\n".join(parts) + "\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class PlainBM25:
    """BM25 (Lucene's idf, k1=1.5, b=0.75) in plain Python: postings dicts, a full sort."""

    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.lengths = [len(d) for d in docs]
        self.avg = sum(self.lengths) / max(len(docs), 1)
        self.postings: dict[str, dict[int, int]] = defaultdict(dict)
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                self.postings[term][i] = tf
        n = len(docs)
        self.idf = {
            t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()
        }

    def search(self, query: list[str], k: int) -> list[tuple[int, float]]:
        scores: dict[int, float] = defaultdict(float)
        for term in query:
            for i, tf in self.postings.get(term, {}).items():
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                scores[i] += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
        return sorted(scores.items(), key=lambda kv: -kv[1])[:k]


def bench_ingest(root: Path, files: int, rng: random.Random) -> dict[str, Any]:
    paths = []
    for i in range(files):
        path = root / "docs" / f"doc{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(rng), encoding="utf-8")
        paths.append(path)
    started = time.perf_counter()
    for path in paths:
        chunk_text(parse(path.read_bytes(), kind="markdown", name=path.name).text)
    anchor = time.perf_counter() - started
    settings = Settings(home=root / ".grace", checkpoint_interval=0.0)
    with Workspace.open(settings) as ws, KnowledgeBase(ws) as kb:
        kb.scanner  # noqa: B018  # load the rule packs before the clock starts
        started = time.perf_counter()
        outcomes = kb.ingest([str(p) for p in paths], principal=Principal.user("bench"))
        elapsed = time.perf_counter() - started
    stored = sum(1 for o in outcomes if o.status == "stored")
    return {
        "files": files,
        "stored": stored,
        "ingest_per_s": round(files / elapsed, 1),
        "anchor_read_parse_chunk_per_s": round(files / anchor, 1),
    }


def bench_search(root: Path, chunks: int, queries: int, rng: random.Random) -> dict[str, Any]:
    settings = Settings(home=root / ".grace-search", checkpoint_interval=0.0)
    texts = [" ".join(sentence(rng) for _ in range(4)) for _ in range(chunks)]
    with Workspace.open(settings) as ws, KnowledgeBase(ws) as kb:
        # 100 approved documents of 100 chunks each, indexed directly (ingesting 10,000
        # chunks through the governed path is what bench_ingest measures).
        per_doc = 100
        for d in range(0, chunks, per_doc):
            doc = Document(
                id=new_id(), source=f"bench/{d}.md", origin="file", final_url="",
                sha256=f"{d:064x}", text_sha256=f"{d:064x}", size=0,
                content_type="file (markdown)", parser="markdown", title=f"doc {d}",
                fetched_at=0.0, published_at=None, trust=0.8, trust_detail={}, findings=[],
                state="approved", version=1, previous_id=None, principal="user:bench",
                ingest_index=1, ledger_index=1,
            )  # fmt: skip
            rows: list[tuple[str, str, str, str, list[dict[str, Any]]]] = [
                ("", "prose", f"{d + i:064x}", texts[d + i], [])
                for i in range(min(per_doc, chunks - d))
            ]
            kb.index.insert(doc, rows)
        started = time.perf_counter()
        kb.search("warm up the index")
        build = time.perf_counter() - started
        qs = [
            f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(WORDS)}" for _ in range(queries)
        ]
        grace_ms = []
        for q in qs:
            t = time.perf_counter()
            kb.search(q, k=5)
            grace_ms.append((time.perf_counter() - t) * 1000)
        corpus = [
            tokenize_query(f"doc {d // per_doc * per_doc}\n\n{t}") for d, t in enumerate(texts)
        ]
        plain = PlainBM25(corpus)
        plain_ms = []
        for q in qs:
            t = time.perf_counter()
            plain.search(tokenize_query(q), 5)
            plain_ms.append((time.perf_counter() - t) * 1000)
    return {
        "chunks": chunks,
        "queries": queries,
        "index_build_s": round(build, 2),
        "bm25s_p50_ms": round(statistics.median(grace_ms), 3),
        "bm25s_p99_ms": round(percentile(grace_ms, 0.99), 3),
        "plain_p50_ms": round(statistics.median(plain_ms), 3),
        "plain_p99_ms": round(percentile(plain_ms, 0.99), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(10)
    with tempfile.TemporaryDirectory(prefix="grace-bench-knowledge-") as tmp:
        results = {
            **bench_ingest(Path(tmp), args.files, rng),
            **bench_search(Path(tmp), args.chunks, args.queries, rng),
        }
    results["search_speedup_p50"] = round(results["plain_p50_ms"] / results["bm25s_p50_ms"], 1)
    results["ingest_vs_anchor"] = round(
        results["anchor_read_parse_chunk_per_s"] / results["ingest_per_s"], 1
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    r = results
    print(f"Knowledge benchmark: {r['files']} files ingested, {r['chunks']:,} chunks searched\n")
    print(f"{'measure':<52}{'value':>12}{'target':>10}")
    ingest = "ingest from local files (governed, scanned, signed)"
    print(f"{ingest:<52}{r['ingest_per_s']:>10} /s{'>= 20':>10}")
    print(f"{'  anchor: read + parse + chunk only':<52}{r['anchor_read_parse_chunk_per_s']:>10} /s")
    print(f"{'  anchor / ingest':<52}{r['ingest_vs_anchor']:>11}x")
    print(f"{'search index build (10,000 chunks, once)':<52}{r['index_build_s']:>11} s")
    print(f"{'search p50, bm25s':<52}{r['bm25s_p50_ms']:>9} ms")
    print(f"{'search p99, bm25s':<52}{r['bm25s_p99_ms']:>9} ms{'<= 50':>10}")
    print(f"{'search p50, plain-Python BM25 (baseline)':<52}{r['plain_p50_ms']:>9} ms")
    print(f"{'search p99, plain-Python BM25 (baseline)':<52}{r['plain_p99_ms']:>9} ms")
    print(f"{'speed-up at p50 (baseline / bm25s)':<52}{r['search_speedup_p50']:>11}x{'>= 5':>10}")


if __name__ == "__main__":
    main()
