"""``grace ingest`` and ``grace knowledge ...``: governed ingestion, review and search.

``grace ingest`` exits 0 when every item was stored, is pending review or was
unchanged; 2 when an item was bad input (a missing file, a malformed PDF, a
404); 3 when an item was refused by policy or its fetch waits for an approval;
4 when the workspace cannot be used.  Every item is attempted either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grace_kernel.errors import InputError

from ._governance import cli_principal
from ._output import (
    Result,
    grace_command,
    item_progress,
    settings_from_env,
    utc_time,
)

if TYPE_CHECKING:
    from grace_kernel.knowledge import Document, IngestOutcome, KnowledgeBase, SearchHit

_STATES = ["pending", "approved", "superseded", "rejected", "forgotten"]


@contextmanager
def _knowledge() -> Iterator[KnowledgeBase]:
    from grace_kernel.knowledge import KnowledgeBase
    from grace_kernel.workspace import Workspace

    with Workspace.open(settings_from_env(), create=False) as ws, KnowledgeBase(ws) as kb:
        yield kb


def _item_done(done: IngestOutcome) -> str:
    return f"{done.status}: {done.target[-40:]}"


def _target(text: str) -> str:
    if "://" in text:
        return text
    return str(Path.cwd() / text)


_MARK = {
    "stored": "stored ",
    "pending": "pending",
    "unchanged": "same   ",
    "denied": "refused",
    "awaiting_approval": "waiting",
    "error": "error  ",
}


def _outcome_line(outcome: IngestOutcome) -> str:
    head = f"{_MARK[outcome.status]} {outcome.target}"
    doc = outcome.document
    if doc is not None:
        head += f"  -> {doc.id} v{doc.version}"
    if outcome.trust is not None:
        head += f"  trust {outcome.trust.score:.3f}"
    if outcome.findings:
        head += f"  {outcome.findings} finding(s)"
    lines = [head]
    if outcome.message:
        lines.append(f"        {outcome.message}")
    if outcome.hint:
        lines.extend(f"        hint: {h}" for h in outcome.hint.splitlines()[:4])
    return "\n".join(lines)


def _batch_code(outcomes: list[IngestOutcome]) -> int:
    codes = {o.exit_code for o in outcomes if not o.ok}
    for code in (4, 2, 3, 1):
        if code in codes:
            return code
    return max(codes, default=0)


@click.command()
@click.argument("targets", nargs=-1, metavar="PATH_OR_URL...")
@click.option("--api", "api_url", metavar="URL", help="A JSON endpoint to ingest items from.")
@click.option(
    "--items",
    metavar="JSONPATH",
    help="With --api: where the items are, e.g. '$.results[*]' (default: the whole response).",
)
@grace_command
def ingest(targets: tuple[str, ...], api_url: str | None, items: str | None) -> Result:
    """Ingest files and web pages into the knowledge store, scanned, scored and governed.

    Each item is fetched (a governed file.read or net.connect), parsed, chunked, scanned
    by Hunter and trust-scored; policy then stores it, holds it for review or refuses it.
    """
    if not targets and not api_url:
        raise InputError("nothing to ingest", hint="give files, URLs, or --api URL --items PATH")
    if items and not api_url:
        raise InputError("--items needs --api URL")
    principal = cli_principal()
    outcomes: list[IngestOutcome] = []
    with _knowledge() as kb:
        if targets:
            with item_progress(
                len(targets),
                unit="item",
                desc="grace ingest",
                postfix=_item_done,
            ) as step:
                outcomes += kb.ingest(
                    [_target(t) for t in targets], principal=principal, progress=step
                )
        if api_url:
            outcomes += kb.ingest_api(api_url, items=items or "$", principal=principal)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    text = "\n".join(_outcome_line(o) for o in outcomes) + f"\n{len(outcomes)} item(s): {summary}"
    code = _batch_code(outcomes)
    data = {"ok": code == 0, "items": [o.to_json() for o in outcomes], "counts": counts}
    return data, text, code


@click.group()
def knowledge() -> None:
    """List, review, forget and search ingested knowledge."""


def _doc_line(doc: Document) -> str:
    findings = f"  {len(doc.findings)} finding(s)" if doc.findings else ""
    return (
        f"{doc.id}  {doc.state:<10} trust {doc.trust:.3f}  v{doc.version}  "
        f"{utc_time(doc.fetched_at)}  {doc.source}{findings}\n    {doc.title}"
    )


@knowledge.command("list")
@click.option("--state", type=click.Choice(_STATES), help="Only documents in this state.")
@grace_command
def knowledge_list(state: str | None) -> Result:
    """List documents, newest first (pending ones whose approval was decided are settled first)."""
    with _knowledge() as kb:
        docs = kb.list(state=state)
    text = "\n".join(_doc_line(d) for d in docs) or "no knowledge yet (`grace ingest PATH_OR_URL`)"
    return [d.to_json() for d in docs], text, 0


@knowledge.command("show")
@click.argument("doc_id")
@click.option("--text", "with_text", is_flag=True, help="Print the stored passages too.")
@grace_command
def knowledge_show(doc_id: str, with_text: bool) -> Result:
    """One document: source, trust and why, findings, versions, and its ledger records."""
    from grace_kernel.knowledge import TrustScore

    with _knowledge() as kb:
        doc = kb.get(doc_id)
        chunks = kb.chunks(doc_id)
    lines = [
        _doc_line(doc),
        f"source:   {doc.source}" + (f" (fetched from {doc.final_url})" if doc.final_url else ""),
        f"fetched:  {utc_time(doc.fetched_at)} by {doc.principal}; parser {doc.parser}; "
        f"{doc.size} bytes ({doc.content_type})",
        f"sha256:   {doc.sha256}",
        f"version:  {doc.version}" + (f" (previous {doc.previous_id})" if doc.previous_id else ""),
        f"records:  ingest at ledger index {doc.ingest_index}, latest {doc.ledger_index}"
        f" (`grace ledger show {doc.ingest_index}`)",
    ]
    if doc.approval_id:
        lines.append(f"approval: {doc.approval_id}")
    if doc.decided_by or doc.note:
        lines.append(f"decided:  by {doc.decided_by or 'policy'}: {doc.note or ''}".rstrip(": "))
    lines.append(TrustScore.from_json(doc.trust_detail).explain())
    if doc.findings:
        lines.append("findings:")
        lines.extend(
            f"  {f['severity']:<8} {f['rule_id']:<12} {f['where']}: {f['title']}\n"
            f"           > {f['snippet'][:120]}"
            for f in doc.findings
        )
    lines.append(f"passages: {len(chunks)}")
    if with_text:
        for chunk in chunks:
            lines.append(f"--- {chunk.seq} [{chunk.kind}] {chunk.heading}")
            lines.append(chunk.text if chunk.text is not None else "(forgotten)")
    data: dict[str, Any] = {**doc.to_json(), "chunks": [c.to_json() for c in chunks]}
    if not with_text:
        for chunk in data["chunks"]:
            chunk.pop("text")
    return data, "\n".join(lines), 0


@knowledge.command("approve")
@click.argument("doc_id")
@click.option("--reason", default="", help="Why (recorded).")
@grace_command
def knowledge_approve(doc_id: str, reason: str) -> Result:
    """Approve a pending document (another person than the one who ingested it)."""
    with _knowledge() as kb:
        doc = kb.approve(doc_id, approver=cli_principal(), note=reason)
    text = f"{doc.id} is {doc.state}" + (" and searchable" if doc.searchable else "")
    return doc.to_json(), text, 0 if doc.state == "approved" else 3


@knowledge.command("reject")
@click.argument("doc_id")
@click.option("--reason", default="", help="Why (recorded).")
@grace_command
def knowledge_reject(doc_id: str, reason: str) -> Result:
    """Reject a pending document, or withdraw an approved one from search."""
    with _knowledge() as kb:
        doc = kb.reject(doc_id, by=cli_principal(), note=reason)
    return doc.to_json(), f"{doc.id} is rejected (ledger index {doc.ledger_index})", 0


@knowledge.command("forget")
@click.argument("doc_id")
@click.option("--reason", default="", help="Why (recorded in the tombstone).")
@grace_command
def knowledge_forget(doc_id: str, reason: str) -> Result:
    """Remove a document's content; a signed tombstone (source and digest) stays."""
    with _knowledge() as kb:
        doc = kb.forget(doc_id, by=cli_principal(), reason=reason)
    text = f"forgot {doc.id} ({doc.source}); tombstone at ledger index {doc.ledger_index}"
    return doc.to_json(), text, 0


@knowledge.command("feedback")
@click.argument("doc_id")
@click.option(
    "--helpful/--not-helpful",
    required=True,
    help="Your vote on the document's source; it moves the source's next trust scores.",
)
@grace_command
def knowledge_feedback(doc_id: str, helpful: bool) -> Result:
    """Vote on a document's source (one vote per person and source; voting again replaces it)."""
    with _knowledge() as kb:
        net = kb.feedback(doc_id, by=cli_principal(), helpful=helpful)
        source = kb.get(doc_id).source
    text = f"{source}: net {net:+d} vote(s); it counts in the source's next trust scores"
    return {"doc_id": doc_id, "source": source, "net_votes": net}, text, 0


def _hit_text(rank: int, hit: SearchHit) -> str:
    where = f"{hit.source}" + (f" > {hit.heading}" if hit.heading else "")
    body = hit.text if len(hit.text) <= 600 else hit.text[:600] + " ..."
    flag = f"  [{len(hit.findings)} finding(s)]" if hit.findings else ""
    return (
        f"{rank}. {where}\n   trust {hit.trust:.3f}, score {hit.score:.2f}, {hit.doc_id} "
        f"passage {hit.seq}, record: grace ledger show {hit.ledger_index}{flag}\n"
        + "\n".join(f"   | {line}" for line in body.splitlines())
    )


@knowledge.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "k", default=5, show_default=True, help="How many passages (1-100).")
@grace_command
def knowledge_search(query: tuple[str, ...], k: int) -> Result:
    """Search approved knowledge (BM25): passages with their source, trust and signed record."""
    with _knowledge() as kb:
        hits = kb.search(" ".join(query), k=k)
    text = "\n\n".join(_hit_text(i, h) for i, h in enumerate(hits, 1)) or "no matching passages"
    return [h.to_json() for h in hits], text, 0
