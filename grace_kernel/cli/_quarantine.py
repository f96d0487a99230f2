"""``grace quarantine``: move a flagged file into ``.grace/quarantine`` and, once approved, back."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from grace_kernel.errors import IntegrityError
from grace_kernel.governance import ApprovalRequired
from grace_kernel.quarantine import QuarantineEntry, quarantine_file, restore_file
from grace_kernel.workspace import Workspace

from ._governance import cli_principal
from ._output import Result, grace_command, settings_from_env, utc_time


class _FileOrCommand(click.Group):
    """A group whose first word may also be a file: ``grace quarantine FILE`` is ``... add FILE``.

    A file named like a subcommand (``list``, ``show``...) needs the ``add`` form.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["add", *args]
        return super().parse_args(ctx, args)


def _open() -> Workspace:
    return Workspace.open(settings_from_env(), create=False)


def _line(entry: QuarantineEntry) -> str:
    return (
        f"{entry.id}  {entry.state:<12}{utc_time(entry.created_at)}  {entry.path}"
        f"  ({entry.size} bytes, mode {entry.mode_text}, by {entry.who})\n    {entry.why}"
    )


@click.group(cls=_FileOrCommand, subcommand_metavar="FILE | COMMAND [ARGS]...")
def quarantine() -> None:
    """Move flagged files into quarantine, list them, and restore them after an approval.

    `grace quarantine FILE [--reason TEXT]` is short for `grace quarantine add FILE`.
    """


@quarantine.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--reason", default="", help="Why (recorded in the index and the ledger).")
@grace_command
def quarantine_add(file: Path, reason: str) -> Result:
    """Move FILE into .grace/quarantine with a signed record (who, why, digest)."""
    with _open() as ws:
        entry = quarantine_file(ws, Path.cwd() / file, principal=cli_principal(), reason=reason)
    text = (
        f"quarantined {entry.path} as {entry.id} "
        f"({entry.size} bytes, sha256 {entry.sha256[:16]}...)\n"
        f"  to put it back (needs another person's approval): "
        f"grace quarantine restore {entry.id}"
    )
    return entry.to_json(), text, 0


@quarantine.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include entries already restored.")
@grace_command
def quarantine_list(show_all: bool) -> Result:
    """List quarantined files, newest first."""
    with _open() as ws:
        entries = ws.quarantine.list(include_restored=show_all)
    text = "\n".join(_line(e) for e in entries) or "nothing in quarantine"
    return [e.to_json() for e in entries], text, 0


@quarantine.command("show")
@click.argument("entry_id")
@grace_command
def quarantine_show(entry_id: str) -> Result:
    """Show one entry and check its blob; exit 1 if a quarantined blob is missing or altered."""
    with _open() as ws:
        entry = ws.quarantine.get(entry_id)
        blob = "restored"
        if entry.state == "quarantined":
            try:
                ws.quarantine.verify(entry)
                blob = "intact"
            except IntegrityError as exc:
                blob = f"damaged: {exc.message}"
    lines = [_line(entry), f"sha256:  {entry.sha256}", f"blob:    {blob}"]
    if entry.ledger_index is not None:
        lines.append(f"record:  ledger index {entry.ledger_index}")
    if entry.restored_at is not None:
        lines.append(
            f"restored {utc_time(entry.restored_at)} to {entry.restored_to} by "
            f"{entry.restored_by} (approval {entry.approval_id})"
        )
    code = 1 if blob.startswith("damaged") else 0
    return {**entry.to_json(), "blob": blob}, "\n".join(lines), code


def _awaiting(entry_id: str, to: Path | None, exc: ApprovalRequired) -> Result:
    again = f"grace quarantine restore {entry_id}" + (f" --to {shlex.quote(str(to))}" if to else "")
    data: dict[str, Any] = {
        "ok": False,
        "state": "awaiting_approval",
        "id": entry_id,
        "approval_id": exc.approval_id,
        "approve": f"grace approvals approve {exc.approval_id}",
        "then": again,
    }
    text = (
        f"restoring {entry_id} needs a person's approval: request {exc.approval_id}\n"
        f"  another person approves it: {data['approve']}\n"
        f"  then run again:             {again}"
    )
    return data, text, exc.exit_code


@quarantine.command("restore")
@click.argument("entry_id")
@click.option(
    "--to",
    type=click.Path(path_type=Path),
    help="Restore here instead of the original path (into a directory: same file name).",
)
@grace_command
def quarantine_restore(entry_id: str, to: Path | None) -> Result:
    """Put a quarantined file back, verified, once another person has approved it.

    Until then it exits 3 and prints the approval request and the command to approve it.
    """
    with _open() as ws:
        try:
            entry = restore_file(
                ws, entry_id, principal=cli_principal(), to=None if to is None else Path.cwd() / to
            )
        except ApprovalRequired as exc:
            return _awaiting(entry_id, to, exc)
    text = (
        f"restored {entry.id} to {entry.restored_to} (mode {entry.mode_text}, "
        f"approval {entry.approval_id})"
    )
    return entry.to_json(), text, 0
