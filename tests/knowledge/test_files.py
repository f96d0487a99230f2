"""Local files: every parser, malformed input per item, versions, forgetting, crash safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grace_kernel.errors import InputError
from grace_kernel.governance import DECISION, PolicyDenied, Principal
from grace_kernel.knowledge import KNOWLEDGE_INGEST, KnowledgeBase
from grace_kernel.knowledge._chunk import chunk_text
from grace_kernel.knowledge._index import Document, new_id
from grace_kernel.workspace import Workspace
from tests.governance.conftest import predicates, set_mode
from tests.knowledge.conftest import ALICE, BOB, Project


def make_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` in Helvetica, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Calibration\n", "Steps to calibrate."],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": "torque = 12\nprint(torque)",
            "outputs": [],
        },
    ],
    "metadata": {"language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_each_kind_of_file_is_parsed_with_its_structure(
    project: Project, kb: KnowledgeBase
) -> None:
    files = [
        project.write("guide.md", "# Guide\n\n## Setup\n\nTighten the flange bolts.\n"),
        project.write("readme.txt", "Plain words about widget flanges.\n"),
        project.write(
            "page.html",
            "<html><head><title>T</title></head><body><h2>Flanges</h2>"
            "<p>Widget <b>flanges</b> wobble.</p><pre>x = 1</pre></body></html>",
        ),
        project.write("calibrate.ipynb", json.dumps(NOTEBOOK)),
        project.write("tool.py", "def flange(x):\n    return x * 2\n"),
        project.write("manual.pdf", make_pdf("Flange torque is twelve newton metres")),
    ]
    outcomes = kb.ingest([str(f) for f in files], principal=ALICE)
    assert [o.status for o in outcomes] == ["stored"] * 6, [o.message for o in outcomes]
    docs = {Path(o.target).name: o.document for o in outcomes}
    text = {name: kb.text(d.id) for name, d in docs.items() if d is not None}
    assert text["guide.md"].startswith("# Guide")
    assert "## Flanges" in text["page.html"]
    assert "```\nx = 1\n```" in text["page.html"]
    assert "# Calibration" in text["calibrate.ipynb"]
    assert "```python\ntorque = 12" in text["calibrate.ipynb"]
    assert "```python\ndef flange" in text["tool.py"]
    assert "## Page 1" in text["manual.pdf"]
    assert "twelve newton metres" in text["manual.pdf"]
    assert docs["manual.pdf"].parser.startswith("pdf (pypdf")  # type: ignore[union-attr]
    assert docs["guide.md"].source == "guide.md"  # type: ignore[union-attr]
    (hit,) = kb.search("newton metres torque", k=1)
    assert hit.source == "manual.pdf"


def test_malformed_files_fail_one_by_one_and_nothing_is_half_stored(
    project: Project, kb: KnowledgeBase, ws: Workspace
) -> None:
    good = project.write("ok.md", "# Fine\n\nA good document.\n")
    bad_encoding = project.write("latin.md", "# Caf\xe9\n".encode("latin-1"))
    truncated = project.write("cut.pdf", make_pdf("half a document")[:180])
    broken_nb = project.write("broken.ipynb", '{"cells": [{"cell_type": "markdown", "sour')
    not_nb = project.write("list.ipynb", "[1, 2, 3]")
    binary = project.write("blob.txt", b"abc\x00def")
    unknown = project.write("data.xlsx", b"PK\x03\x04")
    keys = ws.settings.keys_dir / "x.md"
    outcomes = kb.ingest(
        [str(p) for p in (bad_encoding, truncated, good, broken_nb, not_nb, binary, unknown, keys)],
        principal=ALICE,
    )
    messages = {Path(o.target).name: o.message for o in outcomes}
    assert [o.status for o in outcomes] == ["error", "error", "stored", *["error"] * 5]
    assert "not valid utf-8 (byte 5" in messages["latin.md"]
    assert "truncated PDF" in messages["cut.pdf"]
    assert "invalid JSON at line 1" in messages["broken.ipynb"]
    assert "no list of cells" in messages["list.ipynb"]
    assert "NUL characters" in messages["blob.txt"]
    assert "not a kind of file Grace ingests" in messages["data.xlsx"]
    assert "inside .grace/" in messages["x.md"]
    assert all(o.exit_code == 2 for o in outcomes if o.status == "error")
    # Only the good document left anything behind: one row, one record, and one blob
    # (a Markdown file's bytes are its parsed text, so source and text share a digest).
    assert [d.source for d in kb.list()] == ["ok.md"]
    assert list(kb.blobs.names()) == [kb.list()[0].sha256]
    assert len(predicates(ws, KNOWLEDGE_INGEST)) == 1


def test_a_pdf_that_pypdf_cannot_read_is_an_error(project: Project, kb: KnowledgeBase) -> None:
    garbage = project.write("junk.pdf", b"%PDF-1.4\n1 0 obj\n<< /Broken \nendobj\n%%EOF\n")
    (outcome,) = kb.ingest([str(garbage)], principal=ALICE)
    assert outcome.status == "error"
    assert "junk.pdf" in outcome.message


def test_unchanged_content_is_a_no_op_and_a_change_is_a_linked_version(
    project: Project, kb: KnowledgeBase, ws: Workspace
) -> None:
    path = project.write("spec.md", "# Spec\n\nThe limit is seven sprockets.\n")
    (first,) = kb.ingest([str(path)], principal=ALICE)
    (again,) = kb.ingest([str(path)], principal=ALICE)
    assert again.status == "unchanged"
    assert again.document == first.document
    assert len(predicates(ws, KNOWLEDGE_INGEST)) == 1
    path.write_text("# Spec\n\nThe limit is nine sprockets.\n")
    (second,) = kb.ingest([str(path)], principal=ALICE)
    v1, v2 = first.document, second.document
    assert v1 is not None
    assert v2 is not None
    assert (v2.version, v2.previous_id) == (2, v1.id)
    assert kb.get(v1.id).state == "superseded"
    records = predicates(ws, KNOWLEDGE_INGEST)
    assert records[-1]["previous"] == {
        "id": v1.id,
        "sha256": v1.sha256,
        "ledger_index": v1.ingest_index,
    }
    assert [h.text for h in kb.search("limit sprockets")] == ["The limit is nine sprockets."]


def test_forget_removes_content_and_keeps_a_signed_tombstone(
    project: Project, kb: KnowledgeBase, ws: Workspace
) -> None:
    path = project.write("secret-plan.md", "# Plan\n\nMove the sprockets on Tuesday.\n")
    (outcome,) = kb.ingest([str(path)], principal=ALICE)
    doc = outcome.document
    assert doc is not None
    gone = kb.forget(doc.id, by=BOB, reason="asked to remove")
    assert gone.state == "forgotten"
    assert kb.search("sprockets tuesday") == []
    assert [c.text for c in kb.chunks(doc.id)] == [None]
    assert list(kb.blobs.names()) == []
    with pytest.raises(InputError, match="forgotten"):
        kb.text(doc.id)
    tomb = predicates(ws, KNOWLEDGE_INGEST)[-1]
    assert tomb["action"] == "forget"
    assert tomb["by"] == "user:bob"
    assert tomb["reason"] == "asked to remove"
    assert tomb["ingest_index"] == doc.ingest_index
    _, statement = ws.ledger.entry(tomb["_index"]).decode()
    assert [(s.name, s.sha256) for s in statement.subjects] == [("secret-plan.md", doc.sha256)]
    with pytest.raises(InputError, match="already forgotten"):
        kb.forget(doc.id, by=BOB)
    # Forgotten content can be ingested again, as a new version.
    (back,) = kb.ingest([str(path)], principal=ALICE)
    assert back.status == "stored"
    assert back.document is not None
    assert back.document.version == 2
    assert ws.verify().ok


def test_forgetting_is_governed_a_person_may_a_kernel_may_not_nobody_in_safe_mode(
    project: Project, kb: KnowledgeBase, ws: Workspace
) -> None:
    path = project.write("keep.md", "# Keep\n\nThe flanges are blue.\n")
    (outcome,) = kb.ingest([str(path)], principal=ALICE)
    doc = outcome.document
    assert doc is not None
    kernel = Principal.kernel("k1", on_behalf_of="alice")
    with pytest.raises(PolicyDenied, match=r"knowledge\.forget"):
        kb.forget(doc.id, by=kernel)
    set_mode(ws, "safe")
    with pytest.raises(PolicyDenied) as refused:
        kb.forget(doc.id, by=BOB)
    assert refused.value.decision.policy_ids == ("mode-safe-no-forget",)
    assert [h.source for h in kb.search("flanges blue")] == ["keep.md"]  # nothing lost
    assert kb.index.get(doc.id).state == "approved"
    denied = [d for d in predicates(ws, DECISION) if d["action"]["kind"] == "knowledge.forget"]
    assert [d["effect"] for d in denied] == ["deny", "deny"]

    set_mode(ws, "normal")
    gone = kb.forget(doc.id, by=BOB, reason="stale")
    assert gone.state == "forgotten"
    tomb = predicates(ws, KNOWLEDGE_INGEST)[-1]
    allowed = predicates(ws, DECISION)[-1]
    assert (allowed["effect"], allowed["action"]["resource"]) == ("allow", "keep.md")
    assert tomb["decision_id"] == allowed["decision_id"]


def test_a_row_left_unrecorded_by_a_crash_is_finished_by_the_next_ingest(
    project: Project, kb: KnowledgeBase, ws: Workspace
) -> None:
    """The state a crash between the index commit and the ledger append leaves behind."""
    path = project.write("crash.md", "# Crash\n\nGadgets survive power cuts.\n")
    data = path.read_bytes()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    text = data.decode()
    chunks = chunk_text(text)
    kb.blobs.put_bytes(data, sha256=digest)
    kb.index.insert(
        Document(
            id=new_id(),
            source="crash.md",
            origin="file",
            final_url="",
            sha256=digest,
            text_sha256=digest,
            size=len(data),
            content_type="file (markdown)",
            parser="markdown",
            title="Crash",
            fetched_at=1.0,
            published_at=None,
            trust=0.75,
            trust_detail={"score": 0.75, "model": "heuristic-v1", "signals": []},
            findings=[],
            state="approved",
            version=1,
            previous_id=None,
            principal="user:alice",
        ),
        [(c.heading, c.kind, c.sha256, c.text, []) for c in chunks],
    )
    assert kb.search("gadgets power") == []  # stored but unrecorded: never searchable
    before = len(predicates(ws, KNOWLEDGE_INGEST))
    (outcome,) = kb.ingest([str(path)], principal=ALICE)
    assert outcome.status == "unchanged"
    assert len(predicates(ws, KNOWLEDGE_INGEST)) == before + 1
    assert [h.source for h in kb.search("gadgets power")] == ["crash.md"]


def test_feedback_on_a_source_moves_its_next_score(project: Project, kb: KnowledgeBase) -> None:
    path = project.write("tips.md", "# Tips\n\nOil the sprockets.\n")
    (first,) = kb.ingest([str(path)], principal=ALICE)
    assert first.document is not None
    assert first.trust is not None
    assert kb.feedback(first.document.id, by=BOB, helpful=True) == 1
    path.write_text("# Tips\n\nOil the sprockets weekly.\n")
    (second,) = kb.ingest([str(path)], principal=ALICE)
    assert second.trust is not None
    assert second.trust.score == pytest.approx(first.trust.score + 0.05)
