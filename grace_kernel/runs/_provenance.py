"""Notebook provenance: does each code cell's code and output match a signed record?

The verifier never trusts the notebook: its ``metadata.grace`` only says which
run to prefer.  A cell verifies when a ``cell-execution`` record of a ledger
that itself verified (the live workspace, or a bundle) carries the same cell
id, the same code digest and the same output digests.  Digests are over
normalized outputs in canonical JSON, so — unlike Jupyter's notebook
signature, which joins keys and values without separators — moving text
between MIME types, or between fields, changes them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat

from grace_kernel.errors import InputError, MalformedRecordError
from grace_kernel.ledger import Envelope, Statement
from grace_kernel.runs._records import (
    CELL_EXECUTION,
    NOTEBOOK_RUN,
    code_digest,
    output_digests,
    outputs_digest,
    source_text,
)

__all__ = ["CellCheck", "CellVerdict", "NotebookReport", "read_notebook", "verify_cells"]


class CellVerdict(enum.StrEnum):
    VERIFIED = "verified"
    CODE_CHANGED = "code changed"
    OUTPUTS_CHANGED = "outputs changed"
    NOT_RECORDED = "not recorded"
    NOT_EXECUTED = "not executed"  # no outputs and no execution count: claims nothing

    @property
    def passes(self) -> bool:
        return self in {CellVerdict.VERIFIED, CellVerdict.NOT_EXECUTED}


@dataclasses.dataclass(frozen=True, slots=True)
class CellCheck:
    index: int
    cell_id: str
    verdict: CellVerdict
    record_index: int | None = None
    status: str | None = None  # the recorded execution status (ok, error, denied, held)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "cell_id": self.cell_id,
            "verdict": self.verdict.value,
            "record_index": self.record_index,
            "status": self.status,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class NotebookReport:
    notebook: str
    cells: tuple[CellCheck, ...]
    ledger_ok: bool
    ledger_problem: str | None
    run_id: str | None
    run_record: int | None
    same_run: bool  # every verified cell comes from the run the notebook names
    genesis_keyid: str | None

    @property
    def ok(self) -> bool:
        return self.ledger_ok and all(c.verdict.passes for c in self.cells)

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in CellVerdict}
        for cell in self.cells:
            out[cell.verdict.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "notebook": self.notebook,
            "ledger_ok": self.ledger_ok,
            "ledger_problem": self.ledger_problem,
            "run_id": self.run_id,
            "run_record": self.run_record,
            "same_run": self.same_run,
            "genesis_keyid": self.genesis_keyid,
            "counts": self.counts(),
            "cells": [c.to_json() for c in self.cells],
        }

    def text(self) -> str:
        lines = [f"{self.notebook}:"]
        for c in self.cells:
            where = f" (record {c.record_index})" if c.record_index is not None else ""
            status = f", recorded status {c.status}" if c.status and c.status != "ok" else ""
            lines.append(f"  cell {c.index:>3} {c.cell_id:<16} {c.verdict.value}{where}{status}")
        summary = ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)
        if not self.ledger_ok:
            lines.append(f"FAILED: the ledger itself does not verify: {self.ledger_problem}")
        elif self.ok:
            run = f" from run {self.run_id}" if self.run_id and self.same_run else ""
            lines.append(f"OK: {summary}{run}")
            if self.genesis_keyid:
                lines.append(f"ledger founded by key {self.genesis_keyid}")
        else:
            lines.append(f"FAILED: {summary}")
        return "\n".join(lines)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook file as nbformat v4, with a clear error for anything else."""
    try:
        with path.open(encoding="utf-8") as handle:
            nb = nbformat.read(handle, as_version=4)
    except FileNotFoundError:
        raise InputError(f"{path}: no such notebook") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # nbformat raises JSON and validation errors of several kinds
        raise InputError(f"{path} is not a Jupyter notebook: {exc}") from None
    if not isinstance(nb, nbformat.NotebookNode) or not isinstance(nb.get("cells"), list):
        raise InputError(f"{path} is not a Jupyter notebook (no cell list)")
    return nb


@dataclasses.dataclass(frozen=True, slots=True)
class _Recorded:
    index: int
    code: str
    outputs: str
    status: str
    run_id: str | None


def _records(
    envelopes: Iterable[tuple[int, bytes]],
) -> tuple[dict[str, list[_Recorded]], dict[int, Mapping[str, Any]]]:
    """Cell records by cell id, and run records by index, from verified envelopes."""
    cells: dict[str, list[_Recorded]] = {}
    runs: dict[int, Mapping[str, Any]] = {}
    for index, raw in envelopes:
        try:
            statement = Statement.from_payload(Envelope.from_bytes(raw).payload)
        except MalformedRecordError:
            continue  # the ledger verified; a record Grace cannot parse is not a cell record
        if statement.predicate_type == CELL_EXECUTION:
            p = statement.predicate
            try:
                cells.setdefault(str(p["cell_id"]), []).append(
                    _Recorded(
                        index=index,
                        code=str(p["code_sha256"]),
                        outputs=str(p["outputs_sha256"]),
                        status=str(p.get("status", "")),
                        run_id=p.get("run_id"),
                    )
                )
            except KeyError:
                continue
        elif statement.predicate_type == NOTEBOOK_RUN:
            runs[index] = statement.predicate
    return cells, runs


def _cell_id(cell: Mapping[str, Any], index: int) -> str:
    ident = cell.get("id")
    return str(ident) if ident else f"#{index}"


def verify_cells(
    nb: Mapping[str, Any],
    envelopes: Iterable[tuple[int, bytes]],
    *,
    notebook: str,
    ledger_ok: bool = True,
    ledger_problem: str | None = None,
    genesis_keyid: str | None = None,
) -> NotebookReport:
    """Check each code cell of ``nb`` against the cell records among ``envelopes``.

    ``envelopes`` must come from a ledger that verified (the caller checks);
    pass ``ledger_ok=False`` to report a ledger that did not.
    """
    by_cell, runs = _records(envelopes)
    meta = (
        nb.get("metadata", {}).get("grace", {}) if isinstance(nb.get("metadata"), Mapping) else {}
    )
    run_id = meta.get("run_id") if isinstance(meta, Mapping) else None
    run_index = meta.get("run_record") if isinstance(meta, Mapping) else None
    run = runs.get(run_index) if isinstance(run_index, int) else None
    if run is not None and run.get("run_id") != run_id:
        run = None  # the metadata names a record that is not this run's
    preferred = set(run.get("cell_records", [])) if run else set()

    checks: list[CellCheck] = []
    same_run = run is not None
    for index, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        cell_id = _cell_id(cell, index)
        raw_outputs = cell.get("outputs", [])
        outputs = list(raw_outputs) if isinstance(raw_outputs, list) else [raw_outputs]
        code = code_digest(source_text(cell.get("source", "")))
        produced = outputs_digest(output_digests(outputs))
        candidates = sorted(
            by_cell.get(cell_id, []), key=lambda r: (r.index not in preferred, -r.index)
        )
        match = next((r for r in candidates if r.code == code and r.outputs == produced), None)
        if match is not None:
            checks.append(
                CellCheck(index, cell_id, CellVerdict.VERIFIED, match.index, match.status)
            )
            same_run = same_run and match.index in preferred
            continue
        if not outputs and cell.get("execution_count") is None:
            checks.append(CellCheck(index, cell_id, CellVerdict.NOT_EXECUTED))
            continue
        if any(r.code == code for r in candidates):
            near = next(r for r in candidates if r.code == code)
            checks.append(CellCheck(index, cell_id, CellVerdict.OUTPUTS_CHANGED, near.index))
        elif candidates:
            checks.append(CellCheck(index, cell_id, CellVerdict.CODE_CHANGED, candidates[0].index))
        else:
            checks.append(CellCheck(index, cell_id, CellVerdict.NOT_RECORDED))
        same_run = False
    return NotebookReport(
        notebook=notebook,
        cells=tuple(checks),
        ledger_ok=ledger_ok,
        ledger_problem=ledger_problem,
        run_id=run_id if run is not None else None,
        run_record=run_index if run is not None else None,
        same_run=same_run,
        genesis_keyid=genesis_keyid,
    )
