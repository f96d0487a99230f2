"""What a governed cell execution is, and how it is written down.

Shared by every path that runs cells (the papermill engine, the in-kernel gate,
later the server extension), so a notebook saved from any of them verifies the
same way:

- :func:`cell_action` turns a cell's code into the governed action (Hunter scan,
  summarized for policy, the code's digest bound into the resource so an
  approval given for one code never covers another);
- :func:`output_digests` normalizes outputs first, so re-serializing a
  notebook (lines split or joined, streams coalesced, transient fields
  dropped) does not change them, while any change of content, MIME type or
  output kind does;
- :func:`cell_record` / :func:`run_record` build the signed predicates.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grace_kernel.events import GuardBlocked
from grace_kernel.governance import Action, ActionKind, Decision, Principal
from grace_kernel.hunter import Finding, Scanner, summarize
from grace_kernel.ledger import Subject, canonical_json, predicate_type_urn

__all__ = [
    "CELL_EXECUTION",
    "NOTEBOOK_RUN",
    "CellAction",
    "cell_action",
    "cell_record",
    "code_digest",
    "guard_blocked",
    "normalize_outputs",
    "notebook_content_digest",
    "output_digests",
    "outputs_digest",
    "run_record",
    "source_text",
    "summarize",
]

CELL_EXECUTION = predicate_type_urn("cell-execution")
NOTEBOOK_RUN = predicate_type_urn("notebook-run")

_OUTPUT_KINDS = frozenset({"stream", "display_data", "execute_result", "error"})


def source_text(source: str | Sequence[str]) -> str:
    """A cell's source as one string (notebook files may store it as a list of lines)."""
    return source if isinstance(source, str) else "".join(source)


def code_digest(source: str | Sequence[str]) -> str:
    return hashlib.sha256(source_text(source).encode("utf-8", "surrogatepass")).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class CellAction:
    """A cell about to run: the action to govern and what Hunter found in it."""

    action: Action
    findings: tuple[Finding, ...]
    code_sha256: str


def cell_action(
    source: str,
    *,
    principal: Principal,
    scanner: Scanner,
    location: str,
    detail: Mapping[str, Any] | None = None,
    tainted: Iterable[str] = (),
    findings: Sequence[Finding] | None = None,
) -> CellAction:
    """Scan ``source`` and describe running it at ``location`` (``nb.ipynb#cell-id``).

    ``findings`` may be passed when the same source was already scanned with
    the same taint (a runner scans the next cell while the kernel runs this one).
    """
    digest = code_digest(source)
    if findings is None:
        findings = scanner.scan_code(source, kind="cell", tainted=tainted)
    findings = tuple(findings)
    action = Action(
        kind=ActionKind.CELL_EXECUTE,
        principal=principal,
        resource=f"{location}@{digest[:16]}",
        findings=summarize(findings),
        detail={"code_sha256": digest, **(detail or {})},
    )
    return CellAction(action=action, findings=findings, code_sha256=digest)


# ---------------------------------------------------------------------- outputs


def _joined(value: Any) -> Any:
    """Multi-line text is stored either as one string or as a list of lines."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value


def _mime_bundle(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mime, value in data.items():
        # JSON MIME types hold structured data; every other type holds text.
        is_json = mime == "application/json" or mime.endswith("+json")
        out[str(mime)] = value if is_json else _joined(value)
    return out


def normalize_outputs(outputs: Sequence[Any]) -> list[dict[str, Any]]:
    """Outputs reduced to their content: what was shown, in which form, nothing else.

    Consecutive stream outputs of the same name are merged (frontends and
    nbclient coalesce them differently); ``execution_count`` and ``transient``
    are dropped (they say when, not what).  Unknown output kinds are kept whole
    so they are still covered by the digest.
    """
    out: list[dict[str, Any]] = []
    for raw in outputs:
        if not isinstance(raw, Mapping):  # a malformed file: still covered, never a crash
            out.append({"output_type": "invalid", "value": repr(raw)[:1000]})
            continue
        kind = raw.get("output_type")
        if kind == "stream":
            name, text = raw.get("name", ""), _joined(raw.get("text", ""))
            last = out[-1] if out else None
            if last and last["output_type"] == "stream" and last["name"] == name:
                last["text"] += text
            else:
                out.append({"output_type": "stream", "name": name, "text": text})
        elif kind in {"display_data", "execute_result"}:
            out.append(
                {
                    "output_type": kind,
                    "data": _mime_bundle(raw.get("data", {})),
                    "metadata": dict(raw.get("metadata", {})),
                }
            )
        elif kind == "error":
            out.append(
                {
                    "output_type": "error",
                    "ename": raw.get("ename", ""),
                    "evalue": raw.get("evalue", ""),
                    "traceback": list(raw.get("traceback", [])),
                }
            )
        else:
            out.append({k: v for k, v in raw.items() if k not in {"transient", "execution_count"}})
    return out


def output_digests(outputs: Sequence[Any]) -> list[str]:
    """SHA-256 of each normalized output in RFC 8785 canonical JSON."""
    return [hashlib.sha256(canonical_json(o)).hexdigest() for o in normalize_outputs(outputs)]


def outputs_digest(digests: Sequence[str]) -> str:
    """One digest for a cell's whole output list (order and count included)."""
    return hashlib.sha256(canonical_json(list(digests))).hexdigest()


def notebook_content_digest(cells: Sequence[Mapping[str, Any]]) -> str:
    """A notebook's content (cell kinds, ids, sources, normalized outputs), metadata excluded.

    Grace writes its run record's index into the output notebook's metadata
    after recording this digest, so the digest must not cover metadata.
    """
    body = [
        {
            "cell_type": c.get("cell_type"),
            "id": c.get("id"),
            "source": source_text(c.get("source", "")),
            "outputs": output_digests(c.get("outputs", [])) if c.get("cell_type") == "code" else [],
        }
        for c in cells
    ]
    return hashlib.sha256(canonical_json(body)).hexdigest()


# ---------------------------------------------------------------------- records


def cell_record(
    *,
    notebook: str,
    cell_id: str,
    cell_index: int,
    code_sha256: str,
    outputs: Sequence[Mapping[str, Any]],
    status: str,
    decision: Decision,
    started: float,
    duration_ms: float,
    kernel_id: str | None,
    trust: str,
    role: str = "code",
    run_id: str | None = None,
    guard_blocks: Sequence[Mapping[str, Any]] = (),
    parameters: Mapping[str, Any] | None = None,
) -> tuple[list[Subject], dict[str, Any]]:
    """Subjects and predicate of one ``cell-execution`` record."""
    digests = output_digests(outputs)
    combined = outputs_digest(digests)
    subjects = [
        Subject(f"{notebook}#{cell_id}:code", code_sha256),
        Subject(f"{notebook}#{cell_id}:outputs", combined),
    ]
    predicate: dict[str, Any] = {
        "notebook": notebook,
        "cell_id": cell_id,
        "cell_index": cell_index,
        "role": role,
        "code_sha256": code_sha256,
        "output_sha256": digests,
        "outputs_sha256": combined,
        "status": status,
        "started": round(started, 6),
        "duration_ms": round(duration_ms, 3),
        "decision_id": decision.decision_id,
        "decision_index": decision.ledger_index,
        "effect": decision.effect.value,
        "policy_ids": list(decision.policy_ids),
        "principal": decision.action.principal.label,
        "kernel_id": kernel_id,
        "run_id": run_id,
        "trust": trust,
        "guard_blocks": [dict(b) for b in guard_blocks],
    }
    if parameters is not None:
        predicate["parameters"] = dict(parameters)
    return subjects, predicate


def run_record(
    *,
    run_id: str,
    input_path: str,
    input_sha256: str,
    output_path: str | None,
    output_content_sha256: str,
    parameters: Mapping[str, Any],
    cell_indices: Sequence[int],
    status: str,
    principal: str,
    kernel_name: str,
    started: float,
    duration_ms: float,
    stopped_at: Mapping[str, Any] | None = None,
) -> tuple[list[Subject], dict[str, Any]]:
    """Subjects and predicate of one ``notebook-run`` record."""
    subjects = [Subject(f"input:{input_path}", input_sha256)]
    subjects.append(Subject(f"output:{output_path or '-'}", output_content_sha256))
    predicate = {
        "run_id": run_id,
        "engine": "grace",
        "input": {"path": input_path, "sha256": input_sha256},
        "output": {"path": output_path, "content_sha256": output_content_sha256},
        "parameters": dict(parameters),
        "cell_records": list(cell_indices),
        "status": status,
        "stopped_at": dict(stopped_at) if stopped_at else None,
        "principal": principal,
        "kernel_name": kernel_name,
        "started": round(started, 6),
        "duration_ms": round(duration_ms, 3),
    }
    return subjects, predicate


def guard_blocked(
    block: Mapping[str, Any], *, principal: str, cell: str, record_index: int | None
) -> GuardBlocked:
    """The event for one block a kernel reported (its fields are the kernel's word)."""
    return GuardBlocked(
        event=str(block.get("event", "?")),
        target=str(block.get("target", "?")),
        policy_id=str(block.get("policy_id", "?")),
        reason=str(block.get("reason", "?")),
        principal=principal,
        cell=cell,
        record_index=record_index,
    )
