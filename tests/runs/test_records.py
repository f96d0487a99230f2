"""Output normalization and digests: stable under re-serialization, sensitive to content."""

from __future__ import annotations

import copy
from typing import Any

import nbformat
from nbformat.sign import NotebookNotary

from grace_kernel.ledger import Ledger, MemoryKeyStore, MemoryLedgerStore, Subject
from grace_kernel.runs import CELL_EXECUTION, normalize_outputs, output_digests, outputs_digest
from grace_kernel.runs._provenance import CellVerdict, verify_cells
from grace_kernel.runs._records import code_digest, notebook_content_digest


def test_lines_or_one_string_give_the_same_digest() -> None:
    as_lines = [{"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}]
    as_text = [{"output_type": "stream", "name": "stdout", "text": "a\nb\n"}]
    assert output_digests(as_lines) == output_digests(as_text)


def test_split_streams_and_transient_fields_do_not_change_the_digest() -> None:
    split: list[dict[str, Any]] = [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "stream", "name": "stdout", "text": "b\n"},
        {
            "output_type": "execute_result",
            "execution_count": 3,
            "data": {"text/plain": ["1"]},
            "metadata": {},
            "transient": {"display_id": "x"},
        },
    ]
    joined: list[dict[str, Any]] = [
        {"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
        {"output_type": "execute_result", "execution_count": 9, "data": {"text/plain": "1"}},
    ]
    assert output_digests(split) == output_digests(joined)


def test_content_kind_and_mime_type_all_count() -> None:
    base = [{"output_type": "display_data", "data": {"text/plain": "<b>x</b>"}, "metadata": {}}]
    as_html = [{"output_type": "display_data", "data": {"text/html": "<b>x</b>"}, "metadata": {}}]
    as_result = [{"output_type": "execute_result", "data": {"text/plain": "<b>x</b>"}}]
    stderr = [{"output_type": "stream", "name": "stderr", "text": "<b>x</b>"}]
    stdout = [{"output_type": "stream", "name": "stdout", "text": "<b>x</b>"}]
    digests = {
        outputs_digest(output_digests(o)) for o in (base, as_html, as_result, stderr, stdout)
    }
    assert len(digests) == 5


def test_json_mime_data_keeps_its_structure() -> None:
    out = [{"output_type": "display_data", "data": {"application/json": {"a": [1, 2]}}}]
    assert normalize_outputs(out)[0]["data"]["application/json"] == {"a": [1, 2]}


def test_a_notebook_read_back_from_disk_has_the_same_digests() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hi')\n1")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hi\nthere\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1),
    ]
    nb.cells.append(cell)
    text = nbformat.writes(nb)  # nbformat splits multi-line strings into lists on write
    again = nbformat.reads(text, as_version=4)
    assert notebook_content_digest(nb.cells) == notebook_content_digest(again.cells)
    assert output_digests(cell.outputs) == output_digests(again.cells[0].outputs)


def _signed_notebook(data: dict[str, Any]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()", id="c1")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    nb.cells.append(cell)
    signed: nbformat.NotebookNode = nb
    return signed


def test_jupyters_signature_collides_where_grace_does_not() -> None:
    """Jupyter's HMAC joins keys and values with no separator, so moving the plain-text
    part into the HTML part (where it would render as HTML) keeps its signature.
    Grace's per-output canonical JSON digests tell the two apart."""
    original = _signed_notebook(
        {"text/html": "<b>safe</b>", "text/plain": "<img src=x onerror=alert(1)>"}
    )
    forged = _signed_notebook({"text/html": "<b>safe</b>text/plain<img src=x onerror=alert(1)>"})
    notary = NotebookNotary(secret=b"0" * 32, db_file=":memory:")
    assert notary.compute_signature(original) == notary.compute_signature(forged)

    recorded = output_digests(original.cells[0].outputs)
    assert recorded != output_digests(forged.cells[0].outputs)

    # The provenance check built on these digests calls the forgery what it is.
    ledger = Ledger(store=MemoryLedgerStore(), keys=MemoryKeyStore())
    entry = ledger.append(
        subjects=[Subject("nb#c1", code_digest("show()"))],
        predicate_type=CELL_EXECUTION,
        predicate={
            "cell_id": "c1",
            "code_sha256": code_digest("show()"),
            "outputs_sha256": outputs_digest(recorded),
            "status": "ok",
        },
    )
    envelopes = [(entry.index, entry.envelope)]
    good = verify_cells(original, envelopes, notebook="nb")
    bad = verify_cells(forged, envelopes, notebook="nb")
    assert [c.verdict for c in good.cells] == [CellVerdict.VERIFIED]
    assert [c.verdict for c in bad.cells] == [CellVerdict.OUTPUTS_CHANGED]
    assert good.ok
    assert not bad.ok
    ledger.close()


def test_changed_code_and_unrecorded_cells_are_named() -> None:
    nb = nbformat.v4.new_notebook()
    a = nbformat.v4.new_code_cell("a = 1", id="a")
    a.execution_count = 1
    b = nbformat.v4.new_code_cell("b = 2", id="b")
    b.execution_count = 2
    unrun = nbformat.v4.new_code_cell("c = 3", id="c")
    nb.cells = [a, b, unrun]
    ledger = Ledger(store=MemoryLedgerStore(), keys=MemoryKeyStore())
    entry = ledger.append(
        subjects=[Subject("nb#a", "0" * 64)],
        predicate_type=CELL_EXECUTION,
        predicate={
            "cell_id": "a",
            "code_sha256": code_digest("a = 0"),
            "outputs_sha256": outputs_digest([]),
            "status": "ok",
        },
    )
    report = verify_cells(copy.deepcopy(nb), [(entry.index, entry.envelope)], notebook="nb")
    verdicts = [c.verdict for c in report.cells]
    assert verdicts == [
        CellVerdict.CODE_CHANGED,
        CellVerdict.NOT_RECORDED,
        CellVerdict.NOT_EXECUTED,
    ]
    assert not report.ok
    assert "code changed" in report.text()
    ledger.close()
