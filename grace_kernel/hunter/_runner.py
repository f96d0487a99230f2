"""Scanning many files: the walk, the content-hash cache and worker processes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from grace_kernel.hunter._cache import ScanCache
from grace_kernel.hunter._model import Finding, Fix, Severity
from grace_kernel.hunter._registry import RuleRegistry
from grace_kernel.hunter._scan import Scanner, ScanResult
from grace_kernel.hunter._walk import walk_files

__all__ = ["default_jobs", "finding_from_json", "scan_paths"]

_WORKER: dict[str, Scanner] = {}
_CHUNK = 16


def finding_from_json(doc: dict[str, Any], registry: RuleRegistry) -> Finding:
    fix = doc.get("fix")
    severity = Severity[doc["severity"].upper()]
    rule = registry.rules[doc["rule_id"]]
    return Finding(
        rule=rule,
        line=doc["line"],
        column=doc["column"],
        snippet=doc["snippet"],
        message=doc["message"],
        file=doc.get("file"),
        cell=doc.get("cell"),
        end_line=doc.get("end_line"),
        where=doc.get("where", "code"),
        fix=None
        if fix is None
        else Fix(fix["description"], fix["start_line"], fix["end_line"], fix["replacement"]),
        severity=None if severity == rule.severity else severity,
    )


def _init_worker() -> None:
    _WORKER["scanner"] = Scanner()


def _scan_chunk(
    items: list[tuple[str, str]],
) -> list[tuple[str, list[dict[str, Any]], list[str], int]]:
    scanner = _WORKER.get("scanner") or Scanner()
    out = []
    for path, label in items:
        result = scanner.scan_file(Path(path), name=label)
        docs = [f.to_json() for f in result.findings]
        out.append((path, docs, result.notes, result.lines))
    return out


def _label(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def scan_paths(
    roots: Sequence[Path],
    *,
    scanner: Scanner,
    jobs: int = 1,
    cache: ScanCache | None = None,
    base: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Scan files and directories (walked respecting .gitignore), using the cache if given."""
    base = base or Path.cwd()
    result = ScanResult()
    files: list[Path] = []
    for root in roots:
        if not root.exists():
            result.notes.append(f"{root}: no such file or directory")
            continue
        files.extend(walk_files(root))
    result.files = len(files)
    keys: dict[Path, str] = {}
    todo: list[Path] = []
    cached: dict[str, Any] = {}
    if cache is not None:
        for path in files:
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                todo.append(path)
                continue
            keys[path] = f"{scanner.ruleset}:{path.suffix.lower()}:{digest}"
        cached = cache.get_many(list(keys.values()))
        todo = [p for p in files if keys.get(p) not in cached]
    else:
        todo = list(files)
    fresh: dict[str, Any] = {}
    findings: list[Finding] = []

    def take(path: Path, docs: list[dict[str, Any]], notes: list[str], lines: int) -> None:
        label = _label(path, base)
        findings.extend(finding_from_json({**d, "file": label}, scanner.registry) for d in docs)
        result.notes.extend(notes)
        result.lines += lines
        if path in keys:
            fresh[keys[path]] = {
                "findings": [{**d, "file": None} for d in docs],
                "notes": notes,
                "lines": lines,
            }

    for path in files:
        entry = cached.get(keys.get(path, ""))
        if entry is not None:
            take(path, entry["findings"], entry["notes"], entry["lines"])
            fresh.pop(keys[path], None)
    items = [(str(p), _label(p, base)) for p in todo]
    done = len(files) - len(todo)
    if progress:
        progress(done, len(files))
    if jobs > 1 and len(items) > _CHUNK:
        chunks = [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker) as pool:
            for batch in pool.map(_scan_chunk, chunks):
                for name, docs, notes, lines in batch:
                    take(Path(name), docs, notes, lines)
                done += len(batch)
                if progress:
                    progress(done, len(files))
    else:
        _WORKER["scanner"] = scanner
        for start in range(0, len(items), _CHUNK):
            for name, docs, notes, lines in _scan_chunk(items[start : start + _CHUNK]):
                take(Path(name), docs, notes, lines)
            done += min(_CHUNK, len(items) - start)
            if progress:
                progress(done, len(files))
    if cache is not None:
        cache.put_many(fresh)
    result.findings = sorted(
        findings, key=lambda f: (f.file or "", f.cell or 0, f.line, f.column, f.rule.id)
    )
    return result


def default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))
