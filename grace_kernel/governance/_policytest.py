"""``grace policy test``: check a policy set against a file of expected decisions.

A cases file is YAML: a list (or ``{"cases": [...]}``) of::

    - name: high-severity cell waits for approval      # optional
      principal: User::"alice"                          # or user:alice
      action: cell.execute
      resource: cell-1
      context: {findings: {max_severity: 3}}            # any context field; the rest default
      expect: require_approval                          # allow | deny | require_approval
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from grace_kernel.errors import InputError
from grace_kernel.governance._actions import Action, ActionKind, Findings, Principal, Severity
from grace_kernel.governance._decision import Decision, Effect
from grace_kernel.governance._engine import PolicyEngine
from grace_kernel.governance._facts import DEFAULT_CONTEXT

__all__ = ["CaseResult", "load_cases", "run_cases"]

_SPECIAL = {"mode", "approved", "sandbox_level", "findings"}


@dataclasses.dataclass(frozen=True)
class PolicyCase:
    name: str
    action: Action
    mode: str
    approved: bool
    expect: Effect


@dataclasses.dataclass(frozen=True)
class CaseResult:
    case: PolicyCase
    decision: Decision

    @property
    def passed(self) -> bool:
        return self.decision.effect is self.case.expect

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.case.name,
            "passed": self.passed,
            "expect": self.case.expect.value,
            "got": self.decision.effect.value,
            "policy_ids": list(self.decision.policy_ids),
            "reasons": list(self.decision.reasons),
            "errors": list(self.decision.errors),
        }


def load_cases(path: Path) -> list[PolicyCase]:
    """Parse a cases file; raises :class:`InputError` naming the file and case."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    items = doc.get("cases") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: expected a non-empty list of cases")
    return [_case(path, n, item) for n, item in enumerate(items, 1)]


def _case(path: Path, n: int, item: Any) -> PolicyCase:
    where = f"{path}: case {n}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected a mapping")
    missing = {"principal", "action", "resource", "expect"} - set(item)
    if missing:
        raise InputError(f"{where}: missing {', '.join(sorted(missing))}")
    unknown = set(item) - {"name", "principal", "action", "resource", "context", "expect"}
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        kind = ActionKind(item["action"])
    except ValueError:
        raise InputError(f"{where}: unknown action {item['action']!r}") from None
    try:
        expect = Effect(item["expect"])
    except ValueError:
        raise InputError(
            f"{where}: expect must be allow, deny or require_approval, not {item['expect']!r}"
        ) from None
    context = item.get("context") or {}
    if not isinstance(context, dict):
        raise InputError(f"{where}: context must be a mapping")
    unknown_ctx = set(context) - set(DEFAULT_CONTEXT)
    if unknown_ctx:
        raise InputError(f"{where}: unknown context field(s) {', '.join(sorted(unknown_ctx))}")
    findings = context.get("findings") or {}
    try:
        action = Action(
            kind=kind,
            principal=Principal.parse(str(item["principal"])),
            resource=str(item["resource"]),
            facts={k: v for k, v in context.items() if k not in _SPECIAL},
            findings=Findings(
                count=int(findings.get("count", 1 if findings.get("max_severity") else 0)),
                max_severity=Severity(int(findings.get("max_severity", 0))),
                rule_ids=frozenset(findings.get("rule_ids", ())),
            ),
            sandbox_level=int(context.get("sandbox_level", 0)),
        )
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{where}: {exc}") from None
    return PolicyCase(
        name=str(item.get("name") or f"case {n}"),
        action=action,
        mode=str(context.get("mode", "normal")),
        approved=bool(context.get("approved", False)),
        expect=expect,
    )


def run_cases(engine: PolicyEngine, cases: list[PolicyCase]) -> list[CaseResult]:
    return [
        CaseResult(case, engine.decide(case.action, mode=case.mode, approved=case.approved))
        for case in cases
    ]
