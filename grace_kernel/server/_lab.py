"""The REST endpoints the JupyterLab extension needs on top of ``_handlers`` (``/grace/api/...``).

Thin, like the rest of the API: each handler calls one subsystem's public
function in the server process.

- ``GET me``: who is asking and what their role lets them do (the panel hides
  what they may not do; the server still checks every request).
- ``GET lab/ledger`` and ``POST lab/ledger/verify``: the ledger's size, latest
  checkpoint and the newest full verification in the workspace's history
  (whoever ran it: ``grace verify``, this panel, the API).
- ``POST notebook/verify``: ``grace verify --notebook`` for one notebook
  (:func:`grace_kernel.runs.verify_notebook`).
- ``POST fix`` and ``POST fixes/<record>/undo``: Hunter's fixes for a file as a
  governed ``file.write``, with a content-addressed backup recorded in the ledger;
  undo writes the backup back through the same governed path.
- ``GET quarantine``, ``POST quarantine`` and ``POST quarantine/<id>/restore``:
  :mod:`grace_kernel.quarantine`'s governed moves.  A restore that waits for
  another person's approval answers 202 with the request's id.

See ``docs/lab.md`` and ``docs/server_api.md``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from grace_kernel.errors import GraceEnvironmentError, InputError, IntegrityError
from grace_kernel.governance import Action, ActionKind, ApprovalRequired, facts_for
from grace_kernel.hunter import Finding, apply_fixes, fix_diff
from grace_kernel.ledger import Subject, predicate_type_urn
from grace_kernel.quarantine import quarantine_file, restore_file
from grace_kernel.server._auth import ACTION_ROLES, ROLES, GraceAuthorizer
from grace_kernel.server._handlers import (
    ID_PATTERN,
    GraceHandler,
    NotFound,
    Reply,
    _endpoint,
    awaiting_approval,
)
from grace_kernel.workspace import Workspace

__all__ = ["FILE_FIX", "ROUTES"]

FILE_FIX = predicate_type_urn("file-fix")
BACKUPS = "backups"  # .grace/backups/<sha256>: the store `grace scan --fix` uses too
_MAX_REASON = 2000


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _workspace_relative(handler: GraceHandler, path: Path) -> str:
    root = handler.service.workspace.root.resolve()
    if not path.is_relative_to(root):
        raise InputError(f"{path} is outside the workspace {root}; Grace does not write there")
    return path.relative_to(root).as_posix()


# ---------------------------------------------------------------- who am I


class MeHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> dict[str, Any]:
        roles_on = isinstance(self.authorizer, GraceAuthorizer)
        role = self.role()

        def may(action: str) -> bool:
            if not roles_on:
                return True  # the server's own authorizer let this user in; it decides alone
            return role is not None and ROLES.index(role) >= ROLES.index(ACTION_ROLES[action])

        return {
            "name": self.username,
            "principal": self.principal.label,
            "role": role,
            "roles_enabled": roles_on,
            "can": {action: may(action) for action in ACTION_ROLES},
        }


# ---------------------------------------------------------------- ledger


class LabLedgerHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> dict[str, Any]:
        ledger = self.service.workspace.ledger
        latest = ledger.latest_checkpoint()
        checkpoint = None
        if latest is not None:
            checkpoint = {"origin": latest.origin, "size": latest.size, "root": latest.root.hex()}
        return {
            "size": ledger.size,
            "checkpoint": checkpoint,
            "last_verification": _last_verification(self.service.workspace),
        }


class LabLedgerVerifyHandler(GraceHandler):
    @_endpoint("read")
    def post(self) -> Reply:
        """Like ``POST ledger/verify`` (200 or 409), with the verification history's newest."""
        workspace = self.service.workspace
        report = workspace.verify(by=self.principal.label, via="lab").to_json()
        last = _last_verification(workspace)
        return Reply(200 if report["ok"] else 409, {**report, "last_verification": last})


def _last_verification(workspace: Workspace) -> dict[str, Any] | None:
    latest = workspace.verifications.latest()
    return None if latest is None else latest.to_json()


class NotebookVerifyHandler(GraceHandler):
    @_endpoint("read")
    def post(self) -> dict[str, Any]:
        """``grace verify --notebook`` for a notebook under the server root."""
        from grace_kernel.runs import verify_notebook  # loads papermill: only when asked

        relative = self.text_field(self.body(), "path")
        path = self.file_under_root(relative)
        if path.suffix.lower() != ".ipynb":
            raise InputError(f"{relative!r} is not a notebook (.ipynb)")
        report = verify_notebook(
            path, workspace=self.service.workspace, by=self.principal.label, via="lab"
        ).to_json()
        report["notebook"] = relative
        return report


# ---------------------------------------------------------------- fixes


def _fixable(findings: list[Finding], fingerprints: list[str] | None) -> list[Finding]:
    chosen = [f for f in findings if f.fix is not None]
    if fingerprints is not None:
        chosen = [f for f in chosen if f.fingerprint in set(fingerprints)]
    return chosen


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.grace-undo")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GraceEnvironmentError(f"cannot write {path}: {exc.strerror or exc}") from None


class FixHandler(GraceHandler):
    @_endpoint("write")
    def post(self) -> dict[str, Any] | Reply:
        """Apply Hunter's fixes to a file (a governed ``file.write``), backup first, recorded."""
        data = self.body()
        relative = self.text_field(data, "path")
        fingerprints = data.get("fingerprints")
        if fingerprints is not None and (
            not isinstance(fingerprints, list) or not all(isinstance(f, str) for f in fingerprints)
        ):
            raise InputError('"fingerprints" must be a list of strings')
        dry_run = data.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise InputError('"dry_run" must be true or false')
        path = self.file_under_root(relative)
        findings = self.service.scanner.scan_file(path, name=relative).findings
        fixes = _fixable(list(findings), fingerprints)
        if not fixes:
            raise InputError(f"{relative}: no finding with an automatic fix")
        diff = fix_diff(path, fixes)
        rules = sorted({f.rule.id for f in fixes})
        if dry_run:
            return {"path": relative, "diff": diff, "rule_ids": rules}
        workspace = self.service.workspace
        resource = _workspace_relative(self, path)
        action = Action(
            kind=ActionKind.FILE_WRITE,
            principal=self.principal,
            resource=resource,
            facts=facts_for("file.write", resource, workspace=workspace.root),
            detail={"operation": "hunter-fix", "rule_ids": rules},
        )
        before = path.read_bytes()
        try:
            with workspace.governance.governed(action) as decision:
                backup = apply_fixes(path, fixes, backup_dir=workspace.settings.home / BACKUPS)
                if backup is None:
                    raise InputError(f"{relative}: the fixes change nothing")
                after = path.read_bytes()
                entry = workspace.ledger.append(
                    subjects=[
                        Subject(resource, _sha256(after)),
                        Subject(f"backup:{backup.name}", backup.name),
                    ],
                    predicate_type=FILE_FIX,
                    predicate={
                        "action": "fix",
                        "path": resource,
                        "principal": self.principal.label,
                        "rule_ids": rules,
                        "before_sha256": _sha256(before),
                        "after_sha256": _sha256(after),
                        "backup": f"{BACKUPS}/{backup.name}",
                        "decision_id": decision.decision_id,
                    },
                )
        except ApprovalRequired as exc:
            return awaiting_approval(exc, f"writing the fix to {relative}")
        return {
            "path": relative,
            "diff": diff,
            "rule_ids": rules,
            "record": entry.index,
            "backup_sha256": backup.name,
        }


def _fix_record(handler: GraceHandler, index: str) -> dict[str, Any]:
    ledger = handler.service.workspace.ledger
    at = int(index)
    if at >= ledger.size:
        raise NotFound(f"record {index} does not exist (the ledger has {ledger.size})")
    _, statement = ledger.entry(at).decode()
    predicate = dict(statement.predicate)
    if statement.predicate_type != FILE_FIX or predicate.get("action") != "fix":
        raise InputError(f"record {index} is not a fix made by Grace")
    return predicate


class FixUndoHandler(GraceHandler):
    @_endpoint("write")
    def post(self, index: str) -> dict[str, Any] | Reply:
        """Write a fix's backup back (a governed ``file.write``) if the file still holds the fix."""
        fix = _fix_record(self, index)
        workspace = self.service.workspace
        resource = str(fix["path"])
        path = workspace.root / resource
        backup = workspace.settings.home / BACKUPS / str(fix["before_sha256"])
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{resource} no longer exists; nothing to undo") from None
        if _sha256(current) != fix["after_sha256"]:
            raise InputError(
                f"{resource} changed since fix {index} (or it was undone already)",
                hint="undo only restores a file that still holds exactly what the fix wrote",
            )
        try:
            original = backup.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"the backup of fix {index} ({backup}) is missing") from None
        if _sha256(original) != fix["before_sha256"]:
            raise IntegrityError(f"the backup of fix {index} ({backup}) was altered")
        action = Action(
            kind=ActionKind.FILE_WRITE,
            principal=self.principal,
            resource=resource,
            facts=facts_for("file.write", resource, workspace=workspace.root),
            detail={"operation": "hunter-fix-undo", "fix_record": int(index)},
        )
        try:
            with workspace.governance.governed(action) as decision:
                _write_durably(path, original)
                entry = workspace.ledger.append(
                    subjects=[Subject(resource, fix["before_sha256"])],
                    predicate_type=FILE_FIX,
                    predicate={
                        "action": "undo",
                        "path": resource,
                        "principal": self.principal.label,
                        "fix_record": int(index),
                        "before_sha256": fix["after_sha256"],
                        "after_sha256": fix["before_sha256"],
                        "decision_id": decision.decision_id,
                    },
                )
        except ApprovalRequired as exc:
            return awaiting_approval(exc, f"undoing fix {index}")
        return {"path": resource, "restored_sha256": fix["before_sha256"], "record": entry.index}


# ---------------------------------------------------------------- quarantine


class QuarantineHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> list[dict[str, Any]]:
        include = self.get_argument("all", "0") in {"1", "true"}
        entries = self.service.workspace.quarantine.list(include_restored=include)
        return [e.to_json() for e in entries]

    @_endpoint("write")
    def post(self) -> dict[str, Any] | Reply:
        data = self.body()
        relative = self.text_field(data, "path")
        reason = self.text_field(data, "reason", "")
        if len(reason) > _MAX_REASON:
            raise InputError(f"the reason is longer than {_MAX_REASON} characters")
        path = self.file_under_root(relative)
        workspace = self.service.workspace
        try:
            entry = quarantine_file(workspace, path, principal=self.principal, reason=reason)
        except ApprovalRequired as exc:
            return awaiting_approval(exc, f"quarantining {relative}")
        return entry.to_json()


class QuarantineRestoreHandler(GraceHandler):
    @_endpoint("write")
    def post(self, entry_id: str) -> dict[str, Any] | Reply:
        """Put a quarantined file back; 202 with the approval id until another person approves."""
        workspace = self.service.workspace
        try:
            workspace.quarantine.get(entry_id)
        except InputError:
            raise NotFound(f"no quarantine entry {entry_id!r}") from None
        try:
            entry = restore_file(workspace, entry_id, principal=self.principal)
        except ApprovalRequired as exc:
            return awaiting_approval(exc, f"restoring {entry_id}")
        return entry.to_json()


ROUTES: list[tuple[str, type[GraceHandler]]] = [
    (r"me", MeHandler),
    (r"lab/ledger", LabLedgerHandler),
    (r"lab/ledger/verify", LabLedgerVerifyHandler),
    (r"notebook/verify", NotebookVerifyHandler),
    (r"fix", FixHandler),
    (r"fixes/(\d{1,18})/undo", FixUndoHandler),
    (r"quarantine", QuarantineHandler),
    (rf"quarantine/({ID_PATTERN})/restore", QuarantineRestoreHandler),
]
