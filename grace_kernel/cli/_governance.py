"""``grace policy ...`` and ``grace approvals ...``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.errors import InputError
from grace_kernel.governance import (
    Action,
    ActionKind,
    ApprovalRequest,
    Findings,
    PolicyEngine,
    PolicyLoadError,
    Principal,
    Severity,
    facts_for,
    load_cases,
    load_policy_set,
    run_cases,
)
from grace_kernel.ledger._canonical import loads_strict
from grace_kernel.workspace import Workspace, current_user

from ._output import Result, grace_command, settings_from_env

_KERNEL_MARKERS = (b"ipykernel_launcher", b"ipykernel", b"jupyter-kernel")


def _ancestor_is_kernel() -> bool:
    """Whether this process runs inside a Jupyter kernel's process tree (Linux /proc)."""
    if os.environ.get("JPY_PARENT_PID") or os.environ.get("JPY_SESSION_NAME"):
        return True
    pid = os.getppid()
    for _ in range(64):
        if pid <= 1:
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if any(marker in cmdline for marker in _KERNEL_MARKERS):
            return True
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def cli_principal() -> Principal:
    """Who is running this command: the OS user, or a kernel acting for them."""
    user = current_user()
    if _ancestor_is_kernel():
        return Principal.kernel(f"pid-{os.getppid()}", on_behalf_of=user)
    return Principal.user(user)


def _policy_dirs() -> tuple[Path, Path]:
    settings = settings_from_env()
    return settings.policy_dir or seeded_policy_dir(), settings.override_policy_dir


# ---------------------------------------------------------------- policy


@click.group()
def policy() -> None:
    """Lint, test, list and explain the Cedar policies."""


@policy.command("lint")
@grace_command
def policy_lint() -> Result:
    """Check every policy file against the schema; problems are printed as file:line."""
    seeded, overrides = _policy_dirs()
    try:
        loaded = load_policy_set(seeded, overrides)
    except PolicyLoadError as exc:
        problems = [{"file": p.file, "line": p.line, "message": p.message} for p in exc.problems]
        text = "\n".join(str(p) for p in exc.problems) + f"\n{len(problems)} problem(s)"
        return {"ok": False, "problems": problems}, text, 2
    data = {"ok": True, "policies": len(loaded.policies), "files": list(loaded.files)}
    return data, f"OK: {len(loaded.policies)} policies in {len(loaded.files)} files", 0


@policy.command("list")
@grace_command
def policy_list() -> Result:
    """List every active policy: id, effect, approval, obligations, where, why."""
    seeded, overrides = _policy_dirs()
    loaded = load_policy_set(seeded, overrides)
    rows: list[dict[str, Any]] = [
        {
            "id": p.id,
            "effect": "approval" if p.approval else p.effect,
            "obligations": sorted(p.obligations),
            "overridable": p.overridable,
            "actions": sorted(p.actions) if p.actions is not None else None,
            "file": p.file,
            "line": p.line,
            "reason": p.reason,
            "seeded": p.seeded,
        }
        for p in loaded.policies.values()
    ]
    text = "\n".join(
        f"{r['id']:<30} {r['effect']:<9} {Path(r['file']).name}:{r['line']:<4} {r['reason']}"
        for r in rows
    )
    return rows, text, 0


@policy.command("test")
@click.argument("cases", type=click.Path(path_type=Path))
@grace_command
def policy_test(cases: Path) -> Result:
    """Run the cases in CASES (YAML) and report each whose decision is not the expected one."""
    seeded, overrides = _policy_dirs()
    loaded_cases = load_cases(cases)
    engine = PolicyEngine(seeded_dir=seeded, override_dir=overrides)
    if engine.active is None:
        raise InputError(f"the policies do not load: {engine.last_error}")
    results = run_cases(engine, loaded_cases)
    failed = [r for r in results if not r.passed]
    lines = [
        f"FAIL {r.case.name}: expected {r.case.expect.value}, got {r.decision.effect.value}\n"
        + "\n".join(f"     {line}" for line in r.decision.explain().splitlines())
        for r in failed
    ]
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    data = {"passed": len(results) - len(failed), "failed": len(failed)}
    data["results"] = [r.to_json() for r in results]  # type: ignore[assignment]
    return data, "\n".join(lines), 1 if failed else 0


@policy.command("explain")
@click.option("--action", "kind", required=True, type=click.Choice([k.value for k in ActionKind]))
@click.option("--resource", required=True, help="Path, command, host, package spec, ...")
@click.option("--principal", help='Who acts (default: you), e.g. user:alice or Kernel::"k1".')
@click.option("--context", "context_json", help="JSON object of context fields to set.")
@grace_command
def policy_explain(
    kind: str, resource: str, principal: str | None, context_json: str | None
) -> Result:
    """What would be decided for an action, and which policies decide it (nothing is recorded)."""
    settings = settings_from_env()
    context: dict[str, Any] = {}
    if context_json:
        parsed = loads_strict(context_json)
        if not isinstance(parsed, dict):
            raise InputError("--context must be a JSON object")
        context = parsed
    facts = facts_for(kind, resource, workspace=settings.home.parent)
    findings = context.pop("findings", {}) or {}
    mode = str(context.pop("mode", "normal"))
    approved = bool(context.pop("approved", False))
    sandbox_level = int(context.pop("sandbox_level", 0))
    facts.update(context)
    action = Action(
        kind=ActionKind(kind),
        principal=Principal.parse(principal) if principal else cli_principal(),
        resource=resource,
        facts=facts,
        findings=Findings(
            count=int(findings.get("count", 1 if findings.get("max_severity") else 0)),
            max_severity=Severity(int(findings.get("max_severity", 0))),
            rule_ids=frozenset(findings.get("rule_ids", ())),
        ),
        sandbox_level=sandbox_level,
    )
    seeded, overrides = _policy_dirs()
    engine = PolicyEngine(seeded_dir=seeded, override_dir=overrides)
    decision = engine.decide(action, mode=mode, approved=approved)
    return decision.to_json(), decision.explain(), 0


# ---------------------------------------------------------------- approvals


def _approval_json(request: ApprovalRequest) -> dict[str, Any]:
    return request.to_json()


def _approval_line(request: ApprovalRequest) -> str:
    action = request.action
    left = request.expires_at - time.time()
    expiry = f"expires in {int(left // 60)}m{int(left % 60):02d}s" if left > 0 else "expired"
    status = request.state if request.state != "pending" else f"pending, {expiry}"
    return (
        f"{request.id}  {status:<28} {action.get('kind')} on {action.get('resource')}"
        f"  (asked by {request.requester})"
    )


@click.group()
def approvals() -> None:
    """List, inspect, approve and deny approval requests (people only, never kernels)."""


def _workspace() -> Workspace:
    return Workspace.open(settings_from_env(), create=False)


@approvals.command("list")
@click.option("--state", type=click.Choice(["pending", "approved", "denied", "expired", "used"]))
@grace_command
def approvals_list(state: str | None) -> Result:
    """List approval requests (pending ones first expire if their time is up)."""
    with _workspace() as ws:
        requests = ws.governance.list_approvals(state=state)
    text = "\n".join(_approval_line(r) for r in requests) or "no approval requests"
    return [_approval_json(r) for r in requests], text, 0


@approvals.command("show")
@click.argument("approval_id")
@grace_command
def approvals_show(approval_id: str) -> Result:
    """Show one request: the action, who asked, why it needs approval, its state."""
    with _workspace() as ws:
        ws.governance.expire_stale()
        request = ws.governance.approvals.get(approval_id)
    lines = [_approval_line(request), "why:"]
    lines += [
        f"  - {pid}: {why}" for pid, why in zip(request.policy_ids, request.reasons, strict=False)
    ]
    if request.decided_by:
        lines.append(f"decided by {request.decided_by}: {request.note or ''}")
    return _approval_json(request), "\n".join(lines), 0


@approvals.command("approve")
@click.argument("approval_id")
@click.option("--reason", default="", help="Why you approve (recorded in the ledger).")
@grace_command
def approvals_approve(approval_id: str, reason: str) -> Result:
    """Approve a pending request; you must be a person other than the one it acts for."""
    with _workspace() as ws:
        request = ws.governance.approve(approval_id, approver=cli_principal(), note=reason)
    code = 0 if request.state == "approved" else 3
    return (
        _approval_json(request),
        f"{request.id} is now {request.state}: {request.note or ''}",
        code,
    )


@approvals.command("deny")
@click.argument("approval_id")
@click.option("--reason", default="", help="Why you deny (recorded in the ledger).")
@grace_command
def approvals_deny(approval_id: str, reason: str) -> Result:
    """Deny a pending request."""
    with _workspace() as ws:
        request = ws.governance.deny(approval_id, approver=cli_principal(), note=reason)
    return _approval_json(request), f"{request.id} is now denied", 0
