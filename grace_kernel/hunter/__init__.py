"""Hunter: notebook-aware security scanning of code, cell outputs and documents.

- :func:`scan_code` — one cell, file or text; :func:`scan_path` — files and
  directories (``.gitignore`` respected, cached, parallel); :func:`scan_notebook`;
- :class:`Scanner` and :func:`default_registry` for repeated scans (build one
  and reuse it: loading the rule packs is the expensive part);
- :class:`Finding` / :class:`RuleMeta` — the typed results and rule metadata;
- SARIF, baselines and fixes: :func:`to_sarif`, :func:`load_baseline`,
  :func:`write_baseline`, :func:`fix_diff`, :func:`apply_fixes`;
- :class:`AlertStore` — alerts and tasks.

Names load on first use (PEP 562), so importing one Hunter module does not
load every rule.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = [
    "ENTRY_POINT_GROUP",
    "Alert",
    "AlertStore",
    "Confidence",
    "Finding",
    "Fix",
    "RuleMeta",
    "RuleRegistry",
    "ScanCache",
    "ScanResult",
    "Scanner",
    "Severity",
    "apply_fixes",
    "default_jobs",
    "default_registry",
    "fix_diff",
    "load_baseline",
    "scan_code",
    "scan_notebook",
    "scan_path",
    "scan_paths",
    "summarize",
    "to_sarif",
    "write_baseline",
]

_LAZY = {
    "ENTRY_POINT_GROUP": "_registry",
    "RuleRegistry": "_registry",
    "Alert": "_alerts",
    "AlertStore": "_alerts",
    "Confidence": "_model",
    "Finding": "_model",
    "Fix": "_model",
    "RuleMeta": "_model",
    "Severity": "_model",
    "summarize": "_model",
    "ScanCache": "_cache",
    "ScanResult": "_scan",
    "Scanner": "_scan",
    "default_registry": "_scan",
    "apply_fixes": "_report",
    "fix_diff": "_report",
    "load_baseline": "_report",
    "to_sarif": "_report",
    "write_baseline": "_report",
    "default_jobs": "_runner",
    "scan_paths": "_runner",
}

if TYPE_CHECKING:
    from grace_kernel.hunter._alerts import Alert, AlertStore
    from grace_kernel.hunter._cache import ScanCache
    from grace_kernel.hunter._model import (
        Confidence,
        Finding,
        Fix,
        RuleMeta,
        Severity,
        summarize,
    )
    from grace_kernel.hunter._registry import ENTRY_POINT_GROUP, RuleRegistry
    from grace_kernel.hunter._report import (
        apply_fixes,
        fix_diff,
        load_baseline,
        to_sarif,
        write_baseline,
    )
    from grace_kernel.hunter._runner import default_jobs, scan_paths
    from grace_kernel.hunter._scan import Scanner, ScanResult, default_registry


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'grace_kernel.hunter' has no attribute {name!r}")
    return getattr(importlib.import_module(f"grace_kernel.hunter.{module}"), name)


def scan_code(source: str, *, kind: str = "cell", scanner: Scanner | None = None) -> list[Finding]:
    """Findings for one cell (IPython syntax understood), Python file body, or text document."""
    from grace_kernel.hunter._scan import Scanner

    return (scanner or Scanner()).scan_code(source, kind=kind)


def scan_notebook(path: Path, *, scanner: Scanner | None = None) -> list[Finding]:
    """Findings in a notebook's code cells, outputs and markdown."""
    from grace_kernel.hunter._scan import Scanner

    return (scanner or Scanner()).scan_notebook_cells(path)


def scan_path(path: Path, *, scanner: Scanner | None = None, jobs: int = 1) -> list[Finding]:
    """Findings in a file, or every file under a directory (respecting .gitignore)."""
    from grace_kernel.hunter._runner import scan_paths
    from grace_kernel.hunter._scan import Scanner

    return scan_paths([path], scanner=scanner or Scanner(), jobs=jobs, base=path.parent).findings
