"""Grace's REST API inside jupyter_server (``/grace/api/...``), thin over the workspace.

Every handler is authenticated by jupyter_server and authorized for the
``grace`` resource (see :mod:`grace_kernel.server._auth` for the roles).  JSON
in, JSON out.  A :class:`GraceError` answers ``{"ok": false, "error": ...}``
with the status of its kind: input 400, policy 403, integrity 409,
environment 503.  An unknown id answers 404.  See ``docs/server_api.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from grace_kernel.errors import GraceEnvironmentError, GraceError, InputError
from grace_kernel.governance import Action, ActionKind, ApprovalRequired, Principal, facts_for
from grace_kernel.health import Mode, set_manual_mode
from grace_kernel.ledger import PublicKey, verify_inclusion
from grace_kernel.server._auth import RESOURCE, GraceAuthorizer
from grace_kernel.server._service import ServerService

__all__ = ["handlers", "register"]

STATUS_BY_EXIT = {2: 400, 3: 403, 1: 409, 4: 503}
APPROVAL_STATES = ("pending", "approved", "denied", "expired", "used")
ALERT_STATES = ("open", "acknowledged", "resolved", "false-positive")
MAX_TAIL = 10_000


class NotFound(Exception):
    """The id or index names nothing: 404."""


@dataclasses.dataclass(frozen=True)
class Reply:
    """A body answered with a status other than 200."""

    status: int
    body: Any


def _guarded(method: Callable[..., Any]) -> Callable[..., Awaitable[None]]:
    """Run a handler body; answer Grace errors and unknown ids as JSON."""

    @functools.wraps(method)
    async def run(self: GraceHandler, *args: Any, **kwargs: Any) -> None:
        try:
            result = method(self, *args, **kwargs)
            if isinstance(result, Awaitable):
                result = await result
        except NotFound as exc:
            error = {"kind": "not-found", "message": str(exc), "hint": None}
            self._reply(404, {"ok": False, "error": error})
        except GraceError as exc:
            status = STATUS_BY_EXIT.get(exc.exit_code, 500)
            self._reply(status, {"ok": False, "error": exc.to_json()})
        else:
            if isinstance(result, Reply):
                self._reply(result.status, result.body)
            else:
                self._reply(200, result)

    return run


def _endpoint(action: str) -> Callable[[Callable[..., Any]], Callable[..., Awaitable[None] | None]]:
    """Authenticated, authorized for ``action`` on ``grace``, errors answered as JSON."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Awaitable[None] | None]:
        checked: Callable[..., Awaitable[None]] = authorized(action=action, resource=RESOURCE)(
            _guarded(method)
        )
        return web.authenticated(checked)

    return wrap


class GraceHandler(APIHandler):
    """Shared plumbing: the service, the caller, the JSON body."""

    auth_resource = RESOURCE

    def _reply(self, status: int, data: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    @property
    def service(self) -> ServerService:
        service = self.settings.get("grace_service")
        if service is None:
            raise GraceEnvironmentError(
                "Grace is not running in this server (its workspace could not be opened)",
                hint="see the server log for why the grace_kernel.server extension failed",
            )
        return service  # type: ignore[no-any-return]

    @property
    def username(self) -> str:
        user = self.current_user
        name = getattr(user, "username", None)
        if not name:
            raise InputError("this request has no user name")
        return str(name)

    @property
    def principal(self) -> Principal:
        return Principal.user(self.username)

    def body(self) -> dict[str, Any]:
        raw = self.request.body or b""
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError("the request body must be a JSON object")
        return data

    def text_field(self, data: dict[str, Any], name: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if not isinstance(value, str):
            raise InputError(f"{name!r} must be a string")
        return value

    def int_argument(self, name: str, default: int | None, low: int, high: int) -> int | None:
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InputError(f"{name} must be an integer, not {raw!r}") from None
        if not low <= value <= high:
            raise InputError(f"{name} must be within {low}..{high}")
        return value

    def state_argument(self, states: tuple[str, ...]) -> str | None:
        state = self.get_argument("state", None)
        if state is not None and state not in states:
            raise InputError(f"state must be one of {', '.join(states)}")
        return state

    def file_under_root(self, relative: str) -> Path:
        """A regular file under the server root (``..`` and paths elsewhere are refused)."""
        root_dir = self.settings.get("server_root_dir")
        if not root_dir:
            raise GraceEnvironmentError("this server has no root directory")
        if not relative:
            raise InputError('"path" must not be empty')
        root = Path(root_dir).expanduser().resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise InputError(f"{relative!r} is outside the server root")
        if not path.is_file():
            raise InputError(f"{relative!r} is not a file under the server root")
        return path

    def role(self) -> str | None:
        authorizer = self.authorizer
        if isinstance(authorizer, GraceAuthorizer):
            return authorizer.role_of(self.current_user)
        return None


# ---------------------------------------------------------------- status, health


class StatusHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> dict[str, Any]:
        status = self.service.workspace.status()
        roles_on = isinstance(self.authorizer, GraceAuthorizer)
        status["user"] = {"name": self.username, "role": self.role(), "roles_enabled": roles_on}
        return status


class HealthHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> dict[str, Any]:
        return self.service.supervisor.status()


def awaiting_approval(exc: ApprovalRequired, what: str) -> Reply:
    """202: the action is held until another person approves request ``approval_id``."""
    return Reply(
        202,
        {
            "ok": False,
            "state": "pending-approval",
            "approval_id": exc.approval_id,
            "message": f"{what} waits for another person's approval (request {exc.approval_id})",
            "hint": exc.hint,
        },
    )


class HealHandler(GraceHandler):
    """``grace heal`` in the server: check now, restart what failed (backoff skipped)."""

    @_endpoint("write")
    def post(self) -> dict[str, Any]:
        data = self.body()
        component = data.get("component")
        if component is not None and not isinstance(component, str):
            raise InputError("'component' must be a string")
        dry_run = data.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise InputError("'dry_run' must be true or false")
        supervisor = self.service.supervisor
        names = supervisor.registry.order()
        if component is not None and component not in names:
            raise NotFound(f"no component {component!r} (known: {', '.join(names)})")
        done = supervisor.heal(component, dry_run=dry_run)
        return {**done, "status": supervisor.status()}


class ModeHandler(GraceHandler):
    """``grace mode set`` in the server: governed, so usually 202 with the approval to get."""

    @_endpoint("write")
    def post(self) -> dict[str, Any] | Reply:
        data = self.body()
        wanted = self.text_field(data, "mode")
        try:
            mode = Mode(wanted)
        except ValueError:
            raise InputError(f"mode must be one of {', '.join(m.value for m in Mode)}") from None
        reason = self.text_field(data, "reason", "")
        try:
            done = set_manual_mode(
                self.service.workspace, mode, principal=self.principal, reason=reason
            )
        except ApprovalRequired as exc:
            return awaiting_approval(exc, f"setting the mode to {mode.value}")
        self.service.supervisor.floor_changed()  # now, not at the next round
        return {**done, "mode": self.service.supervisor.mode.value}


# ---------------------------------------------------------------- approvals


class ApprovalsHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> list[dict[str, Any]]:
        state = self.state_argument(APPROVAL_STATES)
        requests = self.service.workspace.governance.list_approvals(state=state)
        return [r.to_json() for r in requests]


def _known_approval(service: ServerService, approval_id: str) -> None:
    try:
        service.workspace.governance.approvals.get(approval_id)
    except InputError:
        raise NotFound(f"no approval request {approval_id!r}") from None


class ApprovalHandler(GraceHandler):
    @_endpoint("read")
    def get(self, approval_id: str) -> dict[str, Any]:
        _known_approval(self.service, approval_id)
        governance = self.service.workspace.governance
        governance.expire_stale()
        return governance.approvals.get(approval_id).to_json()


class ApprovalDecisionHandler(GraceHandler):
    @_endpoint("approve")
    def post(self, approval_id: str, verb: str) -> dict[str, Any] | Reply:
        service = self.service
        _known_approval(service, approval_id)
        reason = self.text_field(self.body(), "reason", "")
        governance = service.workspace.governance
        if verb == "approve":
            request = governance.approve(approval_id, approver=self.principal, note=reason)
        else:
            request = governance.deny(approval_id, approver=self.principal, note=reason)
        # The periodic check releases or refuses cells held for it; do it now.
        service.check_holds()
        if verb == "approve" and request.state != "approved":
            # Policy refuses the action even when approved (`grace approvals approve`: exit 3).
            error = {"kind": "policy", "message": request.note or "refused", "hint": None}
            return Reply(403, {"ok": False, "error": error, "request": request.to_json()})
        return request.to_json()


# ---------------------------------------------------------------- alerts


class AlertsHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> list[dict[str, Any]]:
        state = self.state_argument(ALERT_STATES)
        return [a.to_json() for a in self.service.workspace.alerts.list(state=state)]


def _known_alert(service: ServerService, alert_id: str) -> None:
    try:
        service.workspace.alerts.get(alert_id)
    except InputError:
        raise NotFound(f"no alert {alert_id!r}") from None


class AlertHandler(GraceHandler):
    @_endpoint("read")
    def get(self, alert_id: str) -> dict[str, Any]:
        _known_alert(self.service, alert_id)
        return self.service.workspace.alerts.get(alert_id).to_json()


class AlertMoveHandler(GraceHandler):
    @_endpoint("write")
    def post(self, alert_id: str, move: str) -> dict[str, Any]:
        service = self.service
        _known_alert(service, alert_id)
        reason = self.text_field(self.body(), "reason", "")
        alert = service.workspace.alerts.move(alert_id, move, by=self.principal.label, note=reason)
        return alert.to_json()


# ---------------------------------------------------------------- ledger


def _known_index(service: ServerService, index: str) -> int:
    size = service.workspace.ledger.size
    if int(index) >= size:
        raise NotFound(f"record {index} does not exist (the ledger has {size})")
    return int(index)


class LedgerTailHandler(GraceHandler):
    @_endpoint("read")
    def get(self) -> list[dict[str, Any]]:
        count = self.int_argument("n", 10, 0, MAX_TAIL)
        assert count is not None
        return [e.describe() for e in self.service.workspace.ledger.tail(count)]


class LedgerEntryHandler(GraceHandler):
    @_endpoint("read")
    def get(self, index: str) -> dict[str, Any]:
        ledger = self.service.workspace.ledger
        return ledger.entry(_known_index(self.service, index)).describe(full=True)


class LedgerProofHandler(GraceHandler):
    @_endpoint("read")
    def get(self, index: str) -> dict[str, Any]:
        ledger = self.service.workspace.ledger
        at = _known_index(self.service, index)
        size = self.int_argument("size", None, 1, max(ledger.size, 1))
        if size is None:
            latest = ledger.latest_checkpoint()
            size = latest.size if latest and latest.size > at else ledger.size
        proof = ledger.inclusion_proof(at, size)
        verify_inclusion(
            proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.proof, proof.root
        )
        checkpoint = ledger.signed_checkpoint(size)
        keys = [PublicKey(k.public_key) for k in ledger.list_keys()]
        signed = (
            checkpoint is not None
            and any(checkpoint.signed_by(k) for k in keys)
            and checkpoint.root == proof.root
        )
        return {**proof.to_json(), "verified": True, "root_signed_by_checkpoint": signed}


class LedgerCheckpointHandler(GraceHandler):
    @_endpoint("admin")
    def post(self) -> dict[str, Any]:
        checkpoint = self.service.workspace.ledger.checkpoint()
        if checkpoint is None:
            raise InputError("the ledger is empty")
        return {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": checkpoint.root.hex(),
            "note": checkpoint.to_text(),
        }


class LedgerVerifyHandler(GraceHandler):
    @_endpoint("read")
    def post(self) -> Reply:
        """The report; 409 (like any integrity failure) when the ledger does not verify."""
        report = self.service.workspace.verify(by=self.principal.label, via="server")
        return Reply(200 if report.ok else 409, report.to_json())


# ---------------------------------------------------------------- scan, policy


class ScanHandler(GraceHandler):
    @_endpoint("read")
    def post(self) -> dict[str, Any]:
        data = self.body()
        scanner = self.service.scanner
        if ("code" in data) == ("path" in data):
            raise InputError('give exactly one of "code" or "path"')
        if "code" in data:
            kind = self.text_field(data, "kind", "cell")
            findings = scanner.scan_code(self.text_field(data, "code"), kind=kind)
            return {"findings": [f.to_json() for f in findings], "notes": []}
        relative = self.text_field(data, "path")
        path = self.file_under_root(relative)
        result = scanner.scan_file(path, name=relative)
        return {
            "findings": [f.to_json() for f in result.findings],
            "notes": list(result.notes),
            "files": result.files,
            "lines": result.lines,
        }


class PolicyExplainHandler(GraceHandler):
    @_endpoint("read")
    def post(self) -> dict[str, Any]:
        data = self.body()
        kind = self.text_field(data, "action")
        resource = self.text_field(data, "resource")
        try:
            action_kind = ActionKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in ActionKind)
            raise InputError(f"action must be one of {kinds}, not {kind!r}") from None
        workspace = self.service.workspace
        action = Action(
            kind=action_kind,
            principal=self.principal,
            resource=resource,
            facts=facts_for(kind, resource, workspace=workspace.root),
        )
        decision = workspace.governance.explain(action)
        return {**decision.to_json(), "explanation": decision.explain()}


# ---------------------------------------------------------------- wiring

ID_PATTERN = r"[A-Za-z0-9_.:-]+"  # an approval, alert or quarantine id in a route
_ROUTES: list[tuple[str, type[GraceHandler]]] = [
    (r"status", StatusHandler),
    (r"health", HealthHandler),
    (r"health/heal", HealHandler),
    (r"health/mode", ModeHandler),
    (r"approvals", ApprovalsHandler),
    (rf"approvals/({ID_PATTERN})", ApprovalHandler),
    (rf"approvals/({ID_PATTERN})/(approve|deny)", ApprovalDecisionHandler),
    (r"alerts", AlertsHandler),
    (rf"alerts/({ID_PATTERN})", AlertHandler),
    (rf"alerts/({ID_PATTERN})/(ack|resolve|false-positive)", AlertMoveHandler),
    (r"ledger/tail", LedgerTailHandler),
    (r"ledger/entries/(\d{1,18})", LedgerEntryHandler),
    (r"ledger/proof/(\d{1,18})", LedgerProofHandler),
    (r"ledger/checkpoint", LedgerCheckpointHandler),
    (r"ledger/verify", LedgerVerifyHandler),
    (r"scan", ScanHandler),
    (r"policy/explain", PolicyExplainHandler),
]


def handlers(base_url: str) -> list[tuple[str, type, dict[str, Any]]]:
    """The URL patterns of the API under ``base_url``."""
    from grace_kernel.server._lab import ROUTES as LAB_ROUTES  # _lab imports this module

    return [
        (url_path_join(base_url, "grace/api", pattern) + "$", handler, {})
        for pattern, handler in [*_ROUTES, *LAB_ROUTES]
    ]


def register(serverapp: Any) -> None:
    """Add the API to a running server's web app.

    Roles apply only when the server's authorizer is a :class:`GraceAuthorizer`
    (``--ServerApp.authorizer_class=grace_kernel.server._auth.GraceAuthorizer``);
    otherwise the server's own authorizer decides, and it is left as it is.
    """
    serverapp.web_app.add_handlers(".*$", handlers(serverapp.base_url))
    if not isinstance(serverapp.authorizer, GraceAuthorizer):
        serverapp.log.info(
            "Grace API without roles: set ServerApp.authorizer_class to "
            "grace_kernel.server._auth.GraceAuthorizer to turn them on"
        )
