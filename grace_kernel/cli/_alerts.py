"""``grace alerts``: what live scans and blocked actions left for people to handle."""

from __future__ import annotations

import click

from grace_kernel.hunter import Alert
from grace_kernel.workspace import Workspace

from ._governance import cli_principal
from ._output import Result, grace_command, settings_from_env, utc_time


def _line(alert: Alert) -> str:
    task = f"  task: {alert.task_owner} ({alert.task_state})" if alert.task_state else ""
    return (
        f"{alert.id}  {alert.state:<15}{alert.severity:<9}{alert.rule_id}  {alert.location}"
        f"  x{alert.count}{task}\n    {alert.title}"
    )


def _open() -> Workspace:
    return Workspace.open(settings_from_env(), create=False)


@click.group()
def alerts() -> None:
    """List alerts and move them: ack, resolve, false-positive (each change is signed)."""


@alerts.command("list")
@click.option("--state", type=click.Choice(["open", "acknowledged", "resolved", "false-positive"]))
@grace_command
def alerts_list(state: str | None) -> Result:
    """List alerts, newest first."""
    with _open() as ws:
        found = ws.alerts.list(state=state)
    text = "\n".join(_line(a) for a in found) or "no alerts"
    return [a.to_json() for a in found], text, 0


@alerts.command("show")
@click.argument("alert_id")
@grace_command
def alerts_show(alert_id: str) -> Result:
    """Show one alert with its evidence."""
    with _open() as ws:
        alert = ws.alerts.get(alert_id)
    text = "\n".join(
        [
            _line(alert),
            f"source:   {alert.source}",
            f"evidence: {alert.evidence}",
            f"seen:     {utc_time(alert.first_seen)} .. {utc_time(alert.last_seen)}",
            *([f"changed by {alert.changed_by}: {alert.note or ''}"] if alert.changed_by else []),
        ]
    )
    return alert.to_json(), text, 0


def _mover(action: str, help_text: str) -> click.Command:
    @click.command(action, help=help_text)
    @click.argument("alert_id")
    @click.option("--reason", default="", help="Why (recorded in the ledger).")
    @grace_command
    def move(alert_id: str, reason: str) -> Result:
        with _open() as ws:
            alert = ws.alerts.move(alert_id, action, by=cli_principal().label, note=reason)
        return alert.to_json(), f"{alert.id} is now {alert.state}", 0

    return move


alerts.add_command(_mover("ack", "Acknowledge an open alert."))
alerts.add_command(_mover("resolve", "Mark an alert resolved."))
alerts.add_command(
    _mover("false-positive", "Mark an alert a false positive (kept to train the severity model).")
)
