"""Hunter's typed contract: rule metadata, findings, fixes.

Every rule has a stable id (``GRC-PY-001``), the node type or pattern it
inspects, a severity, a confidence, a CWE, a rationale, a fix hint and
references.  Every finding carries its rule's metadata, where it was found
(file, cell, line, column), a snippet with secrets masked, a fingerprint that
survives unrelated edits (rule id + normalized code, not line numbers), and,
where Hunter knows one, a concrete fix.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from grace_kernel.governance import Findings, Severity

__all__ = ["Confidence", "Finding", "Fix", "RuleMeta", "Severity", "normalize_code", "summarize"]


class Confidence(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


@dataclasses.dataclass(frozen=True, slots=True)
class RuleMeta:
    """What a rule looks for and why; loaded from a rule pack, never free-form."""

    id: str
    title: str
    category: str
    inspects: str
    severity: Severity
    confidence: Confidence
    cwe: int
    rationale: str
    fix: str
    references: tuple[str, ...] = ()
    bandit: str | None = None  # the comparable Bandit test id, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "inspects": self.inspects,
            "severity": self.severity.name.lower(),
            "confidence": self.confidence.name.lower(),
            "cwe": self.cwe,
            "rationale": self.rationale,
            "fix": self.fix,
            "references": list(self.references),
            "bandit": self.bandit,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Fix:
    """Replace lines ``start_line``..``end_line`` (1-based, inclusive) with ``replacement``."""

    description: str
    start_line: int
    end_line: int
    replacement: str


_WS = re.compile(r"\s+")


def normalize_code(text: str) -> str:
    """Code with whitespace runs collapsed: what a fingerprint hashes."""
    return _WS.sub(" ", text).strip()


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    rule: RuleMeta
    line: int
    column: int
    snippet: str
    message: str
    file: str | None = None
    cell: int | None = None
    end_line: int | None = None
    where: str = "code"  # code | output | text
    fix: Fix | None = None
    severity: Severity | None = None  # raised above the rule's by taint, else the rule's

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def effective_severity(self) -> Severity:
        return self.severity if self.severity is not None else self.rule.severity

    @property
    def fingerprint(self) -> str:
        """Rule id + where + normalized code: stable when unrelated lines move."""
        basis = f"{self.rule.id}\0{self.where}\0{normalize_code(self.snippet)}"
        return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule.id,
            "title": self.rule.title,
            "category": self.rule.category,
            "severity": self.effective_severity.name.lower(),
            "confidence": self.rule.confidence.name.lower(),
            "cwe": self.rule.cwe,
            "file": self.file,
            "cell": self.cell,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line or self.line,
            "where": self.where,
            "snippet": self.snippet,
            "message": self.message,
            "fingerprint": self.fingerprint,
            "fix": None
            if self.fix is None
            else {
                "description": self.fix.description,
                "start_line": self.fix.start_line,
                "end_line": self.fix.end_line,
                "replacement": self.fix.replacement,
            },
            "fix_hint": self.rule.fix,
        }


def summarize(findings: Iterable[Finding]) -> Findings:
    """Hunter's findings as the three numbers policy compares."""
    items = list(findings)
    if not items:
        return Findings()
    return Findings(
        count=len(items),
        max_severity=Severity(max(int(f.effective_severity) for f in items)),
        rule_ids=frozenset(f.rule_id for f in items),
    )
