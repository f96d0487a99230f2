"""``grace ingest`` / ``grace knowledge`` in-process, and API sources over real HTTP."""

from __future__ import annotations

import json

import pytest

from grace_kernel.errors import InputError
from grace_kernel.knowledge import KnowledgeBase, select_items
from grace_kernel.workspace import Workspace, current_user
from tests.knowledge.conftest import ALICE, BOB, Project, Site, write_catalog

ME = f"user:{current_user()}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.results[*].title", ["a", "b"]),
        ("$.results", [{"title": "a"}, {"title": "b"}]),
        ("results[1]", [{"title": "b"}]),
        ("$['meta'].page", [3]),
        ("$", [{"results": [{"title": "a"}, {"title": "b"}], "meta": {"page": 3}}]),
    ],
)
def test_items_paths_select_what_they_say(path: str, expected: list[object]) -> None:
    doc = {"results": [{"title": "a"}, {"title": "b"}], "meta": {"page": 3}}
    assert select_items(doc, path) == expected


def test_an_items_path_that_selects_nothing_is_bad_input() -> None:
    with pytest.raises(InputError, match="selects nothing"):
        select_items({"a": 1}, "$.b[*]")


def test_an_api_call_waits_for_approval_then_each_item_is_a_document(
    ws: Workspace, site: Site
) -> None:
    write_catalog(ws.settings.home, site.port)
    with KnowledgeBase(ws) as kb:
        (waiting,) = kb.ingest_api(site.url("/api/items"), items="$.results[*]", principal=ALICE)
        assert waiting.status == "awaiting_approval"
        assert waiting.approval_id
        ws.governance.approve(waiting.approval_id, approver=BOB)
        outcomes = kb.ingest_api(site.url("/api/items"), items="$.results[*]", principal=ALICE)
        assert [o.status for o in outcomes] == ["stored", "stored"]
        sources = [o.document.source for o in outcomes if o.document]
        assert sources == [
            site.url("/api/items") + "#$.results[*][17]",
            site.url("/api/items") + "#$.results[*][18]",
        ]
        (hit,) = kb.search("torque wrench", k=1)
        assert hit.title == "Gadget calibration"


def test_the_cli_ingests_lists_shows_searches_and_forgets(project: Project, site: Site) -> None:
    write_catalog(project.home, site.port)
    project.write("notes.md", "# Notes\n\nGadgets hum at forty hertz.\n")
    done = project.grace(
        "ingest", "notes.md", site.url("/blog/sprockets.html"), "missing.md", "--json", code=2
    )
    doc = json.loads(done.output)
    assert [i["status"] for i in doc["items"]] == ["stored", "pending", "error"]
    assert doc["counts"] == {"error": 1, "pending": 1, "stored": 1}
    stored_id, pending_id = doc["items"][0]["id"], doc["items"][1]["id"]
    assert doc["items"][1]["trust"]["signals"][0]["name"] == "publisher"
    listed = json.loads(project.grace("knowledge", "list", "--state", "pending", "--json").output)
    assert [d["id"] for d in listed] == [pending_id]
    shown = project.grace("knowledge", "show", stored_id).output
    assert "trust 0.750 (heuristic-v1)" in shown
    assert "publisher" in shown
    found = json.loads(project.grace("knowledge", "search", "hertz", "--json").output)
    assert [h["doc_id"] for h in found] == [stored_id]
    assert found[0]["record"].startswith("grace ledger show ")
    assert "no matching passages" in project.grace("knowledge", "search", "sprockets").output
    # The same person cannot approve what they ingested; another person's approval counts.
    refused = project.grace("knowledge", "approve", pending_id, code=3)
    assert "self-approval" in refused.output
    with project.open() as ws, KnowledgeBase(ws) as kb:
        kb.approve(pending_id, approver=BOB)
    assert "sprockets" in project.grace("knowledge", "search", "sprockets").output
    voted = json.loads(
        project.grace("knowledge", "feedback", stored_id, "--helpful", "--json").output
    )
    assert voted["net_votes"] == 1
    again = project.grace("knowledge", "feedback", stored_id, "--not-helpful").output
    assert "net -1 vote(s)" in again  # one vote per person: the second replaces the first
    project.grace("knowledge", "feedback", stored_id, code=2)  # helpful or not: say which
    forgot = project.grace("knowledge", "forget", stored_id, "--reason", "obsolete")
    assert "tombstone at ledger index" in forgot.output
    project.grace("knowledge", "show", "k-nope", code=2)
    project.grace("ingest", code=2)
    project.grace("ingest", "--items", "$.x", code=2)


def test_approve_and_reject_from_the_cli_as_another_person(project: Project, site: Site) -> None:
    write_catalog(project.home, site.port)
    with project.open() as ws, KnowledgeBase(ws) as kb:
        first, second = kb.ingest(
            [site.url("/blog/sprockets.html"), site.url("/docs/faq.html")], principal=ALICE
        )
    assert first.document
    assert second.document
    approved = project.grace("knowledge", "approve", first.document.id, "--reason", "fine")
    assert "approved and searchable" in approved.output
    rejected = json.loads(project.grace("knowledge", "reject", second.document.id, "--json").output)
    assert rejected["state"] == "rejected"
    assert rejected["decided_by"] == ME


@pytest.mark.parametrize(
    "args",
    [
        ["ingest"],
        ["knowledge"],
        ["knowledge", "list"],
        ["knowledge", "show"],
        ["knowledge", "approve"],
        ["knowledge", "reject"],
        ["knowledge", "forget"],
        ["knowledge", "feedback"],
        ["knowledge", "search"],
    ],
)
def test_every_command_has_help(project: Project, args: list[str]) -> None:
    assert "Usage:" in project.grace(*args, "--help").output
