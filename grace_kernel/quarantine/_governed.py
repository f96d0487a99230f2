"""Quarantine through the governed path: ``file.quarantine`` and ``file.restore`` actions.

Input is checked before policy is asked (a directory or a missing file is the
caller's mistake, not a decision to record).  Restores carry the content's
digest as the ``sha256`` fact, so an approval covers exactly that content going
back to exactly that place.  Hunter quarantines as ``Service::"hunter"``; the
seeded policies never let it, a workspace policy may (see docs/quarantine.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grace_kernel.governance import (
    Action,
    ActionKind,
    ApprovalRequired,
    Findings,
    PolicyDenied,
    Principal,
    Severity,
)
from grace_kernel.hunter import summarize
from grace_kernel.quarantine._index import QuarantineEntry

if TYPE_CHECKING:
    from grace_kernel.hunter import Finding
    from grace_kernel.workspace import Workspace

__all__ = ["HUNTER", "quarantine_critical", "quarantine_file", "restore_file"]

HUNTER = Principal.service("hunter")
_NONE = Findings()


def _quarantine_action(
    facts: Mapping[str, Any], principal: Principal, reason: str, findings: Findings = _NONE
) -> Action:
    return Action(
        kind=ActionKind.FILE_QUARANTINE,
        principal=principal,
        resource=facts["path"],
        facts=facts,
        findings=findings,
        detail={"reason": reason},
    )


def _move_in(ws: Workspace, path: Path, action: Action, reason: str) -> QuarantineEntry:
    with ws.governance.governed(action) as decision:
        return ws.quarantine.put(
            path, who=action.principal, why=reason, decision_id=decision.decision_id
        )


def quarantine_file(
    ws: Workspace, path: Path, *, principal: Principal, reason: str = ""
) -> QuarantineEntry:
    """Quarantine one file if policy allows (relative paths are against the workspace root).

    Raises :class:`PolicyDenied` or :class:`ApprovalRequired` instead of moving it.
    """
    source, facts = ws.quarantine.target(path)
    return _move_in(ws, source, _quarantine_action(facts, principal, reason), reason)


def restore_file(
    ws: Workspace, entry_id: str, *, principal: Principal, to: Path | None = None
) -> QuarantineEntry:
    """Put a quarantined file back (at its old path, or ``to``) once a person has approved it.

    The blob is verified before anything is asked or written; without an
    approval this raises :class:`ApprovalRequired` naming the new request, and
    running it again after ``grace approvals approve ID`` restores the file.
    """
    entry = ws.quarantine.get(entry_id)
    dest, facts = ws.quarantine.destination(entry, to)
    ws.quarantine.verify(entry)
    action = Action(
        kind=ActionKind.FILE_RESTORE,
        principal=principal,
        resource=facts["path"],
        facts={**facts, "sha256": entry.sha256},
        detail={"quarantine_id": entry.id},
    )
    with ws.governance.governed(action) as decision:
        return ws.quarantine.restore(entry, dest, by=principal, approval_id=decision.approval_id)


def quarantine_critical(
    ws: Workspace, path: Path, findings: Sequence[Finding]
) -> QuarantineEntry | None:
    """Quarantine ``path`` for Hunter when a finding is critical and policy opts in.

    Returns None (and records nothing) unless a finding is critical and
    :meth:`Governance.explain` says Hunter may; only then is the action
    governed (recorded) and the file moved.
    """
    summary = summarize(findings)
    if summary.max_severity < Severity.CRITICAL:
        return None
    critical = sorted({f.rule.id for f in findings if f.effective_severity >= Severity.CRITICAL})
    reason = f"Hunter: critical finding(s) {', '.join(critical)}"
    source, facts = ws.quarantine.target(path)
    action = _quarantine_action(facts, HUNTER, reason, summary)
    if not ws.governance.explain(action).allowed:
        return None
    try:
        return _move_in(ws, source, action, reason)
    except (PolicyDenied, ApprovalRequired):  # policy changed since explain; that is recorded
        return None
