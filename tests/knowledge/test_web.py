"""End to end against a real HTTP server on 127.0.0.1: trust, governance, limits, search."""

from __future__ import annotations

import time

import pytest

from grace_kernel.errors import InputError, PolicyError
from grace_kernel.knowledge import KNOWLEDGE_INGEST, FetchLimits, KnowledgeBase
from grace_kernel.workspace import Workspace
from tests.governance.conftest import predicates
from tests.knowledge.conftest import ALICE, BIG, BOB, Site


def statuses(kb: KnowledgeBase, site: Site, *paths: str) -> dict[str, tuple[str, str]]:
    outcomes = kb.ingest([site.url(p) for p in paths], principal=ALICE)
    return {o.target.removeprefix(site.base): (o.status, o.message) for o in outcomes}


def test_a_batch_of_varied_sources_is_decided_item_by_item(
    web_kb: KnowledgeBase, site: Site
) -> None:
    started = time.monotonic()
    got = statuses(
        web_kb,
        site,
        "/docs/guide.html",
        "/blog/sprockets.html",
        "/blog/tips.html",
        "/docs/faq.html",
        "/paste/raw/a1b2",
        "/loop/a",
        "/big/announced",
        "/big/chunked",
        "/docs/logo.png",
        "/slow",
        "/silent",
        "/nowhere",
    )
    assert got["/docs/guide.html"][0] == "stored"
    assert got["/blog/sprockets.html"][0] == "pending"  # a blog: middling trust, reviewed
    assert got["/blog/tips.html"][0] == "denied"  # a blog with a script: refused
    assert got["/docs/faq.html"][0] == "pending"  # trusted, but a prompt injection
    assert got["/paste/raw/a1b2"][0] == "denied"
    assert got["/loop/a"] == (
        "error",
        f"{site.url('/loop/a')}: redirect loop ({site.url('/loop/a')} -> {site.url('/loop/b')}"
        f" -> {site.url('/loop/a')})",
    )
    assert "over the 1048576-byte limit" in got["/big/announced"][1]
    assert "cut off" in got["/big/chunked"][1]
    assert "content type 'image/png' is not one Grace ingests" in got["/docs/logo.png"][1]
    assert "gave up after 2.5 s" in got["/slow"][1]
    assert "no answer within 1 s" in got["/silent"][1]
    assert "HTTP 404" in got["/nowhere"][1]
    # The 50 MB bodies were abandoned near the limit, not read to the end.
    assert site.sent["chunked"] < BIG // 4
    assert time.monotonic() - started < 30
    states = {d.source.removeprefix(site.base): d.state for d in web_kb.list()}
    assert states == {
        "/docs/guide.html": "approved",
        "/blog/sprockets.html": "pending",
        "/docs/faq.html": "pending",
    }


def test_a_docs_page_is_parsed_scored_recorded_and_searchable(
    web_kb: KnowledgeBase, ws: Workspace, site: Site
) -> None:
    (outcome,) = web_kb.ingest([site.url("/docs/guide.html")], principal=ALICE)
    doc = outcome.document
    assert doc is not None
    assert outcome.trust is not None
    assert outcome.trust.score >= 0.9
    signals = {s.name: s for s in outcome.trust.signals}
    assert signals["publisher"].observed == "official-docs: the local docs"
    assert signals["transport"].observed == "http (loopback)"
    assert signals["age"].contribution > 0  # dated 90 days ago in a meta tag
    assert signals["links"].contribution > 0  # cites catalogued sources
    assert doc.title == "frobnicate 2.1 documentation"
    text = web_kb.text(doc.id)
    assert "## Installation" in text
    assert "```python\nimport frobnicate" in text
    hits = web_kb.search("quantum widgets lazily")
    assert hits[0].doc_id == doc.id
    assert hits[0].heading.endswith("Quantum widgets")
    assert hits[0].trust == doc.trust
    (record,) = [p for p in predicates(ws, KNOWLEDGE_INGEST) if p["id"] == doc.id]
    assert record["_index"] == hits[0].ledger_index == doc.ingest_index
    assert record["state"] == "approved"
    assert record["source"] == site.url("/docs/guide.html")
    assert record["chunks"] == [c.sha256 for c in web_kb.chunks(doc.id)]
    assert hits[0].sha256 in record["chunks"]
    assert ws.verify().ok


def test_a_pending_page_is_searchable_only_after_another_person_approves(
    web_kb: KnowledgeBase, site: Site
) -> None:
    (outcome,) = web_kb.ingest([site.url("/blog/sprockets.html")], principal=ALICE)
    assert outcome.status == "pending"
    assert outcome.approval_id
    assert web_kb.search("sprockets clockwise") == []
    doc = outcome.document
    assert doc is not None
    with pytest.raises(PolicyError, match="self-approval"):
        web_kb.approve(doc.id, approver=ALICE)
    approved = web_kb.approve(doc.id, approver=BOB, note="read it")
    assert approved.state == "approved"
    assert approved.decided_by == "user:bob"
    (hit,) = web_kb.search("sprockets clockwise")
    assert hit.doc_id == doc.id


def test_an_approval_given_through_grace_approvals_is_picked_up(
    web_kb: KnowledgeBase, ws: Workspace, site: Site
) -> None:
    (outcome,) = web_kb.ingest([site.url("/docs/faq.html")], principal=ALICE)
    assert outcome.status == "pending"
    assert outcome.approval_id is not None
    assert {f["rule_id"] for f in outcome.document.findings} >= {"GRC-TXT-001"}  # type: ignore[union-attr]
    ws.governance.approve(outcome.approval_id, approver=BOB)
    assert [h.source for h in web_kb.search("reset gadget")] == [site.url("/docs/faq.html")]
    assert ws.governance.approvals.get(outcome.approval_id).state == "used"


def test_a_rejected_page_stays_out_of_search(
    web_kb: KnowledgeBase, ws: Workspace, site: Site
) -> None:
    (outcome,) = web_kb.ingest([site.url("/blog/sprockets.html")], principal=ALICE)
    assert outcome.document is not None
    rejected = web_kb.reject(outcome.document.id, by=BOB, note="not a source")
    assert rejected.state == "rejected"
    assert ws.governance.approvals.get(outcome.approval_id or "").state == "denied"
    assert web_kb.search("sprockets") == []


def test_redirects_are_followed_and_each_hop_is_governed(
    web_kb: KnowledgeBase, ws: Workspace, site: Site
) -> None:
    (outcome,) = web_kb.ingest([site.url("/moved")], principal=ALICE)
    assert outcome.status == "stored"
    assert outcome.document is not None
    assert outcome.document.final_url == site.url("/docs/guide.html")
    connects = [
        p
        for p in predicates(ws, "urn:grace:predicate:governance-decision:v1")
        if p["action"]["kind"] == "net.connect"
    ]
    assert [c["action"]["detail"]["url"] for c in connects] == [
        site.url("/moved"),
        site.url("/docs/guide.html"),
    ]
    (too_many,) = web_kb.ingest([site.url("/hop/0")], principal=ALICE)
    assert too_many.status == "error"
    assert "more than 5 redirects" in too_many.message


def test_a_page_in_the_wrong_encoding_is_a_clear_error(web_kb: KnowledgeBase, site: Site) -> None:
    (outcome,) = web_kb.ingest([site.url("/docs/latin1.txt")], principal=ALICE)
    assert outcome.status == "error"
    assert "not valid utf-8 (byte 3" in outcome.message


def test_hosts_outside_loopback_wait_for_a_net_connect_approval(kb: KnowledgeBase) -> None:
    # Nothing is sent: the seeded policy holds the connection for approval first.
    (outcome,) = kb.ingest(["https://example.invalid/page.html"], principal=ALICE)
    assert outcome.status == "awaiting_approval"
    assert outcome.approval_id
    assert outcome.exit_code == 3


@pytest.mark.parametrize(
    "bad", [{"max_bytes": 0}, {"timeout": 0.0}, {"deadline": 601.0}, {"max_redirects": 21}]
)
def test_fetch_limits_outside_their_bounds_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(InputError):
        FetchLimits(**bad)  # type: ignore[arg-type]
