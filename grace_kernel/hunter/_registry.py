"""Rule packs and the registry that holds them (built explicitly, never at import).

A rule pack is a YAML file in ``data/hunter/`` (or shipped by another package
through the ``grace.hunter_rules`` entry point) with a list of rules::

    rules:
      - id: GRC-PY-001
        title: Use of eval on non-literal input
        category: injection          # see CATEGORIES
        inspects: ast.Call           # the node type or pattern kind
        severity: high               # low | medium | high | critical
        confidence: high             # low | medium | high
        cwe: 95
        rationale: ...
        fix: ...                     # the fix hint shown to people
        references: [https://...]
        bandit: B307                 # optional: the comparable Bandit test
        pattern: '...'               # pattern rules only: a regex over each line
        secret: '...'                # secret rules only: a regex whose group 1 is the secret

Python checks are functions registered against a rule id and the AST node
types they inspect; one walk of the tree dispatches every node to the checks
that asked for its type.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from grace_kernel.errors import InputError
from grace_kernel.hunter._model import Confidence, Fix, RuleMeta, Severity

if TYPE_CHECKING:
    from grace_kernel.hunter._pyscan import PyContext

__all__ = [
    "CATEGORIES",
    "ENTRY_POINT_GROUP",
    "Hit",
    "PatternRule",
    "PythonCheck",
    "RuleRegistry",
    "SecretRule",
]

ENTRY_POINT_GROUP = "grace.hunter_rules"

CATEGORIES = frozenset(
    {
        "dangerous-call",  # B1xx/B3xx: exec, eval, os.system, asserts, ...
        "blocklist-import",  # B4xx: telnetlib, ftplib, pickle, ...
        "crypto",  # B3xx/B5xx: weak hashes, ciphers, TLS off, weak keys
        "injection",  # B6xx: shell, subprocess, SQL
        "sql",
        "xss",  # B7xx: templates with autoescape off, mark_safe
        "deserialization",  # pickle, marshal, yaml.load, torch.load
        "path-traversal",
        "obfuscation",
        "network",
        "notebook",
        "secrets",
        "output",
        "prompt-injection",
        "script-injection",
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """What a Python check reports; the scanner turns it into a Finding."""

    node: ast.AST
    message: str
    fix: Fix | None = None
    severity: Severity | None = None  # to raise the rule's severity (taint)


PythonCheck = Callable[[ast.AST, "PyContext"], Iterable[Hit]]


@dataclasses.dataclass(frozen=True, slots=True)
class PatternRule:
    meta: RuleMeta
    regex: re.Pattern[str]


@dataclasses.dataclass(frozen=True, slots=True)
class SecretRule:
    meta: RuleMeta
    regex: re.Pattern[str]


_LEVELS = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH}
_LEVELS["critical"] = Severity.CRITICAL
_CONFIDENCE = {"low": Confidence.LOW, "medium": Confidence.MEDIUM, "high": Confidence.HIGH}
_RULE_ID = re.compile(r"GRC-[A-Z]+-\d{3}|[A-Z][A-Z0-9]*-[A-Z0-9-]+")


def _meta(source: str, item: Any) -> tuple[RuleMeta, dict[str, Any]]:
    if not isinstance(item, dict):
        raise InputError(f"{source}: each rule must be a mapping")
    where = f"{source}: rule {item.get('id', '?')}"
    required = ("id", "title", "category", "inspects", "severity", "confidence", "cwe")
    missing = [k for k in (*required, "rationale", "fix") if not item.get(k)]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")
    if not _RULE_ID.fullmatch(str(item["id"])):
        raise InputError(f"{where}: id must look like GRC-PY-001")
    if item["category"] not in CATEGORIES:
        raise InputError(f"{where}: unknown category {item['category']!r}")
    try:
        meta = RuleMeta(
            id=str(item["id"]),
            title=str(item["title"]),
            category=str(item["category"]),
            inspects=str(item["inspects"]),
            severity=_LEVELS[str(item["severity"]).lower()],
            confidence=_CONFIDENCE[str(item["confidence"]).lower()],
            cwe=int(item["cwe"]),
            rationale=str(item["rationale"]).strip(),
            fix=str(item["fix"]).strip(),
            references=tuple(str(r) for r in item.get("references") or ()),
            bandit=str(item["bandit"]) if item.get("bandit") else None,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{where}: bad severity, confidence or cwe ({exc})") from None
    return meta, item


class RuleRegistry:
    """Every rule Hunter knows: metadata, Python checks, pattern and secret rules."""

    def __init__(self) -> None:
        self.rules: dict[str, RuleMeta] = {}
        self.python: dict[type[ast.AST], list[tuple[RuleMeta, PythonCheck]]] = {}
        self.patterns: list[PatternRule] = []
        self.secrets: list[SecretRule] = []
        self._checks_pending: dict[str, tuple[tuple[type[ast.AST], ...], PythonCheck]] = {}

    # ---------------------------------------------------------------- building

    def load_pack(self, path: Path) -> None:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read rule pack {path}: {exc}") from None
        except yaml.YAMLError as exc:
            raise InputError(f"rule pack {path} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise InputError(f"rule pack {path}: expected a mapping with a 'rules' list")
        for item in doc["rules"]:
            self.add_meta(*_meta(str(path), item), source=str(path))

    def add_meta(self, meta: RuleMeta, item: dict[str, Any], *, source: str) -> None:
        if meta.id in self.rules:
            raise InputError(f"{source}: rule id {meta.id} is defined twice")
        self.rules[meta.id] = meta
        try:
            if item.get("pattern"):
                self.patterns.append(PatternRule(meta, re.compile(str(item["pattern"]))))
            if item.get("secret"):
                self.secrets.append(SecretRule(meta, re.compile(str(item["secret"]))))
        except re.error as exc:
            raise InputError(f"{source}: rule {meta.id}: bad regex: {exc}") from None
        pending = self._checks_pending.pop(meta.id, None)
        if pending is not None:
            self._attach(meta, *pending)

    def add_check(
        self, rule_id: str, node_types: tuple[type[ast.AST], ...], check: PythonCheck
    ) -> None:
        """Register a Python check for ``rule_id`` (its metadata may load before or after)."""
        meta = self.rules.get(rule_id)
        if meta is None:
            self._checks_pending[rule_id] = (node_types, check)
        else:
            self._attach(meta, node_types, check)

    def _attach(
        self, meta: RuleMeta, node_types: tuple[type[ast.AST], ...], check: PythonCheck
    ) -> None:
        for node_type in node_types:
            self.python.setdefault(node_type, []).append((meta, check))

    def check_complete(self) -> None:
        """Every registered check has metadata (a typo in an id must not drop a rule)."""
        if self._checks_pending:
            raise InputError(
                f"Python checks without rule metadata: {', '.join(sorted(self._checks_pending))}"
            )

    def load_entry_points(self) -> list[str]:
        """Load rule packs other packages ship (entry point group ``grace.hunter_rules``).

        Each entry point names a callable taking the registry.
        """
        loaded = []
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            register = entry.load()
            register(self)
            loaded.append(entry.name)
        return loaded

    def __iter__(self) -> Iterator[RuleMeta]:
        return iter(self.rules.values())
