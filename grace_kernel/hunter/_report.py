"""Outputs and follow-ups of a scan: SARIF 2.1.0, baselines, and applying fixes."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from grace_kernel import __version__
from grace_kernel.errors import GraceEnvironmentError, InputError
from grace_kernel.hunter._model import Finding, RuleMeta, Severity

__all__ = ["apply_fixes", "fix_diff", "load_baseline", "to_sarif", "write_baseline"]

_NOTEBOOK = ".ipynb"

_SARIF_LEVEL = {
    Severity.NONE: "note",
    Severity.LOW: "note",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "error",
    Severity.CRITICAL: "error",
}
_SECURITY_SEVERITY = {
    Severity.NONE: "0.0",
    Severity.LOW: "3.0",
    Severity.MEDIUM: "5.5",
    Severity.HIGH: "8.0",
    Severity.CRITICAL: "9.5",
}


def _rule_json(meta: RuleMeta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "name": meta.title,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.rationale},
        "help": {"text": meta.fix},
        "helpUri": meta.references[0] if meta.references else None,
        "properties": {
            "tags": ["security", meta.category, f"external/cwe/cwe-{meta.cwe}"],
            "security-severity": _SECURITY_SEVERITY[meta.severity],
            "precision": meta.confidence.name.lower(),
        },
    }


def to_sarif(findings: Sequence[Finding], rules: Iterable[RuleMeta]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run (what code hosts ingest)."""
    used = {f.rule.id for f in findings}
    rule_list = [r for r in rules if r.id in used]
    index = {r.id: i for i, r in enumerate(rule_list)}
    results = []
    for finding in findings:
        region: dict[str, Any] = {
            "startLine": max(1, finding.line),
            "startColumn": finding.column + 1,
            "endLine": max(1, finding.end_line or finding.line),
            "snippet": {"text": finding.snippet},
        }
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": (finding.file or "<input>").replace("\\", "/")},
                "region": region,
            }
        }
        if finding.cell is not None:
            location["logicalLocations"] = [{"name": f"cell {finding.cell}", "kind": "module"}]
        results.append(
            {
                "ruleId": finding.rule.id,
                "ruleIndex": index[finding.rule.id],
                "level": _SARIF_LEVEL[finding.effective_severity],
                "message": {"text": finding.message},
                "locations": [location],
                "partialFingerprints": {"graceFingerprint/v1": finding.fingerprint},
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Grace Hunter",
                        "version": __version__,
                        "rules": [
                            {k: v for k, v in _rule_json(r).items() if v is not None}
                            for r in rule_list
                        ],
                    }
                },
                "results": results,
            }
        ],
    }


def load_baseline(path: Path) -> set[str]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"baseline {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"baseline {path} is not readable JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("fingerprints"), list):
        raise InputError(f"baseline {path}: expected an object with a 'fingerprints' list")
    return {str(f) for f in doc["fingerprints"]}


def write_baseline(path: Path, findings: Sequence[Finding]) -> int:
    fingerprints = sorted({f.fingerprint for f in findings})
    doc = {
        "tool": "grace-hunter",
        "version": 1,
        "note": "fingerprints = rule id + normalized code; line moves do not change them",
        "fingerprints": fingerprints,
    }
    with _file_errors(path):
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return len(fingerprints)


def _patched(text: str, findings: Sequence[Finding]) -> str:
    lines = text.splitlines(keepends=True)
    applied: set[tuple[int, int]] = set()
    for finding in sorted(
        (f for f in findings if f.fix is not None),
        key=lambda f: f.fix.start_line if f.fix else 0,
        reverse=True,
    ):
        fix = finding.fix
        assert fix is not None
        span = (fix.start_line, fix.end_line)
        if span in applied or any(a <= fix.end_line and fix.start_line <= b for a, b in applied):
            continue  # overlapping fixes: the first (from the bottom) wins; re-run for the rest
        if not 1 <= fix.start_line <= fix.end_line <= len(lines):
            continue
        ending = "\n" if lines[fix.end_line - 1].endswith("\n") else ""
        replacement = fix.replacement.rstrip("\n") + ending
        lines[fix.start_line - 1 : fix.end_line] = [replacement]
        applied.add(span)
    return "".join(lines)


def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _notebook_patches(data: bytes, findings: Sequence[Finding]) -> list[tuple[int, str, str]]:
    """(cell, before, after) for each cell the fixes change.

    Only cells without IPython syntax are patched: for those the scanned lines
    are exactly the cell's own lines.
    """
    from grace_kernel.hunter._notebook import transform_cell

    doc = json.loads(data.decode("utf-8"))
    cells = doc.get("cells", [])
    by_cell: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.cell is not None and finding.fix is not None:
            by_cell.setdefault(finding.cell, []).append(finding)
    out = []
    for index, fixes in sorted(by_cell.items()):
        if not 0 <= index < len(cells):
            continue
        before = _cell_text(cells[index])
        if transform_cell(before) != before:
            continue
        after = _patched(before, fixes)
        if after != before:
            out.append((index, before, after))
    return out


def _patched_file(path: Path, data: bytes, findings: Sequence[Finding]) -> bytes:
    if path.suffix.lower() != _NOTEBOOK:
        return _patched(data.decode("utf-8"), findings).encode("utf-8")
    patches = _notebook_patches(data, findings)
    if not patches:
        return data
    doc = json.loads(data.decode("utf-8"))
    for index, _, after in patches:
        doc["cells"][index]["source"] = after.splitlines(keepends=True)
    # nbformat's own layout, so the notebook diff stays the fix and nothing else
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


@contextlib.contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """Reading or rewriting a file for its fixes: name the file, never a raw OSError."""
    try:
        yield
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot apply fixes to it ({exc})") from None
    except OSError as exc:
        raise GraceEnvironmentError(f"{path}: {exc.strerror or exc}") from None


def fix_diff(path: Path, findings: Sequence[Finding]) -> str:
    """The unified diff the fixes for ``path`` would make (empty if none); per notebook cell."""
    with _file_errors(path):
        return _fix_diff(path, path.read_bytes(), findings)


def _fix_diff(path: Path, data: bytes, findings: Sequence[Finding]) -> str:
    if path.suffix.lower() == _NOTEBOOK:
        pairs = [
            (f"{path} cell {index}", before, after)
            for index, before, after in _notebook_patches(data, findings)
        ]
    else:
        before = data.decode("utf-8")
        pairs = [(str(path), before, _patched(before, findings))]
    return "".join(
        "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )
        for name, before, after in pairs
    )


def apply_fixes(path: Path, findings: Sequence[Finding], *, backup_dir: Path) -> Path | None:
    """Write the fixed file after storing the original under ``backup_dir`` by content hash.

    Works for Python files and for notebook cells.  Returns the backup's path,
    or None when there was nothing to fix.
    """
    with _file_errors(path):
        return _apply_fixes(path, findings, backup_dir)


def _apply_fixes(path: Path, findings: Sequence[Finding], backup_dir: Path) -> Path | None:
    before = path.read_bytes()
    after = _patched_file(path, before, findings)
    if after == before:
        return None
    backup_dir.mkdir(parents=True, exist_ok=True)
    backup = backup_dir / hashlib.sha256(before).hexdigest()
    if not backup.exists():
        backup.write_bytes(before)
    tmp = path.with_name(f".{path.name}.grace-fix")
    tmp.write_bytes(after)
    tmp.replace(path)
    return backup
