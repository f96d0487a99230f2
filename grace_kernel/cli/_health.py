"""``grace heal``, ``grace mode ...``, and the health part of ``grace status``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from grace_kernel.governance import ApprovalRequired
from grace_kernel.health import (
    Mode,
    StoreKeeper,
    Supervisor,
    heal_lines,
    restore_unopened,
    set_manual_mode,
    unopenable,
    workspace_supervisor,
)
from grace_kernel.workspace import Workspace

from ._governance import cli_principal
from ._output import Result, grace_command, settings_from_env, utc_time

__all__ = ["heal", "health_lines", "health_status", "mode"]


@contextmanager
def _supervised() -> Iterator[tuple[Workspace, Supervisor]]:
    workspace = Workspace.open(settings_from_env(), create=False)
    keeper = StoreKeeper(workspace)
    try:
        yield workspace, workspace_supervisor(workspace, keeper=keeper)
    finally:
        workspace.close()
        keeper.close()


def health_status(workspace: Workspace) -> dict[str, Any]:
    """Components checked now, the recorded mode, recent incidents (nothing is healed)."""
    keeper = StoreKeeper(workspace)
    try:
        return workspace_supervisor(workspace, keeper=keeper).check()
    finally:
        keeper.close()


def health_lines(health: dict[str, Any]) -> list[str]:
    lines = [f"components:  {len(health['components'])}"]
    for c in health["components"]:
        restarts = f", {c['restarts']} restarts" if c["restarts"] else ""
        lines.append(f"  {c['name']:<10} {c['health']:<8} {c['detail']}{restarts}")
    incidents = health["incidents"]
    lines.append(f"incidents:   {len(incidents)} recent" + (":" if incidents else ""))
    for i in incidents[:5]:
        state = "open" if i["open"] else f"healed {utc_time(i['healed_at'])}"
        lines.append(
            f"  {i['id']} {utc_time(i['detected_at'])} root {i['root']} "
            f"({', '.join(i['members'])}) {i['mode_before']}->{i['mode_after']}, "
            f"{state}: {i['cause']}"
        )
    return lines


@click.command()
@click.argument("component", required=False)
@click.option(
    "--dry-run", is_flag=True, help="Check and say what would be restarted; change nothing."
)
@grace_command
def heal(component: str | None, dry_run: bool) -> Result:
    """Check every component now and restart what failed (COMPONENT alone if given).

    Backoff is skipped (a person asked); every restart, incident and mode
    change is a signed record.  Exits 1 when something is still failed after.
    """
    settings = settings_from_env()
    broken = unopenable(settings) if component in (None, "store") else None
    restored: list[dict[str, Any]] = []
    if broken is not None:  # too damaged to open a workspace on: restore first
        action = {"component": "store", "action": "would-restart", "detail": broken}
        if dry_run:
            return {"dry_run": True, "actions": [action], "mode": "lockdown"}, broken, 0
        stamp, kept = restore_unopened(settings)
    with _supervised() as (workspace, supervisor):
        if broken is not None:
            keeper = StoreKeeper(workspace)
            try:
                record = keeper.finish_restore(reason=broken, stamp=stamp, kept=kept)
            finally:
                keeper.close()
            restored = [{**action, "action": "restart", "detail": "ok", "restore": record}]
        done = supervisor.heal(None if restored else component, dry_run=dry_run)
        done["actions"] = restored + done["actions"]
        done["status"] = supervisor.status()
    failed = [c["name"] for c in done["status"]["components"] if c["health"] == "failed"]
    return done, "\n".join(heal_lines(done)), 1 if failed and not dry_run else 0


@click.group()
def mode() -> None:
    """Show or set the health mode (normal, degraded, safe, lockdown)."""


@mode.command("show")
@grace_command
def mode_show() -> Result:
    """The mode governance decides with, its cause, and the manual floor if any."""
    with _supervised() as (_, supervisor):
        data = {"mode": supervisor.mode.value, "manual": supervisor.manual.value}
    text = f"mode: {data['mode']}" + (
        f" (set by hand: {data['manual']})" if data["manual"] != "normal" else ""
    )
    return data, text, 0


@mode.command("set")
@click.argument("target", type=click.Choice([m.value for m in Mode]))
@click.option("--reason", default="set by operator", show_default=True)
@grace_command
def mode_set(target: str, reason: str) -> Result:
    """Set the mode by hand (a floor the supervisor never goes below; normal clears it).

    Governed as config.change on health.mode: it needs another person's
    approval, so the first run exits 3 with the request id; run it again
    after `grace approvals approve ID`.
    """
    with Workspace.open(settings_from_env(), create=False) as workspace:
        try:
            record = set_manual_mode(
                workspace, Mode(target), principal=cli_principal(), reason=reason
            )
        except ApprovalRequired as exc:
            again = f"grace mode set {target} --reason {reason!r}"
            data = {
                "ok": False,
                "state": "awaiting_approval",
                "approval_id": exc.approval_id,
                "approve": f"grace approvals approve {exc.approval_id}",
                "then": again,
            }
            text = (
                f"setting the mode to {target} needs a person's approval: request "
                f"{exc.approval_id}\n  another person approves it: {data['approve']}\n"
                f"  then run again:             {again}"
            )
            return data, text, exc.exit_code
    return record, f"mode: {record['from']} -> {record['to']} (record {record['ledger_index']})", 0
