"""The kernel websocket, governed: every execute_request is decided before the kernel sees it.

jupyter_server authorizes ``execute`` once, when the websocket opens.  This
subclass of its ``ZMQChannelsWebsocketConnection`` decides each cell:

- **deny**: the request is never forwarded; the frontend gets an ``error``
  output (reason, rule and policy ids, what to do) and an ``execute_reply``;
- **approval required**: the request is held (other messages keep flowing),
  the frontend sees "waiting for approval <id>", and the request is forwarded
  when someone else approves, or answered with an error on denial or expiry;
- **allow**: forwarded with the decision's obligations in ``metadata.grace``.

On the way back it collects the cell's outputs from iopub and, when the kernel
goes idle for that request, signs a ``cell-execution`` record (the same
predicate as ``grace run``, keyed by the cell id), so ``grace verify
--notebook`` works for notebooks saved from JupyterLab.  If the extension is
not loaded, every execute_request is refused (fail closed).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, ClassVar

from jupyter_client.jsonutil import json_default
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from grace_kernel.governance import Decision, Effect, Severity
from grace_kernel.hunter import Confidence, Scanner
from grace_kernel.runs._records import guard_blocked
from grace_kernel.server._service import Held, ServerService

__all__ = ["GraceWebsocketConnection"]

V1 = "v1.kernel.websocket.jupyter.org"
_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})
# Everything the kernel sends that a browser shows or keeps: outputs, widget (comm)
# data, and the prompt of an input() call.
_REDACTED_TYPES = _OUTPUT_TYPES | {"update_display_data", "comm_open", "comm_msg"}
DELIM = b"<IDS|MSG>"


@dataclasses.dataclass
class _Request:
    """One incoming websocket message, unpacked."""

    channel: str
    header: dict[str, Any]
    parent_header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]
    buffers: list[Any]


@dataclasses.dataclass
class _Running:
    """A forwarded execute_request whose outputs are being collected."""

    cell_id: str
    code_sha256: str
    decision: Decision
    started: float
    outputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    guard_blocks: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    redactions: list[str] = dataclasses.field(default_factory=list)
    status: str = "ok"
    parent: dict[str, Any] = dataclasses.field(default_factory=dict)  # the request's header


class GraceWebsocketConnection(ZMQChannelsWebsocketConnection):
    """A kernel websocket on which Grace decides, holds, records every cell."""

    _notebook: str = ""
    _running: dict[str, _Running]
    services: ClassVar[list[ServerService]] = []  # closed by the server's own cleanup

    @classmethod
    async def close_all(cls) -> None:
        await super().close_all()
        while cls.services:
            service = cls.services.pop()
            if service.containment is not None:  # containments under way are cancelled first
                await service.containment.close()
            service.close()

    @property
    def grace(self) -> ServerService | None:
        handler = self.websocket_handler
        service = handler.settings.get("grace_service") if handler is not None else None
        return service if isinstance(service, ServerService) else None

    @property
    def user(self) -> str:
        user = getattr(self.websocket_handler, "current_user", None)
        return str(getattr(user, "username", None) or "anonymous")

    async def prepare(self) -> None:
        await super().prepare()
        self._running = {}
        sessions = await self.websocket_handler.session_manager.list_sessions()
        for session in sessions:
            if session.get("kernel", {}).get("id") == self.kernel_id:
                self._notebook = str(session.get("path") or "")
                break
        self._notebook = self._notebook or f"kernel:{self.kernel_id}"

    # ------------------------------------------------------------------ incoming

    def _unpack(self, ws_msg: Any) -> tuple[_Request | None, Any]:
        if self.subprotocol == V1:
            channel, parts = deserialize_msg_from_ws_v1(ws_msg)
            header = self.session.unpack(parts[0])
            if channel != "shell" or header.get("msg_type") != "execute_request":
                return None, ws_msg
            unpack = self.session.unpack
            request = _Request(
                channel, header, unpack(parts[1]), unpack(parts[2]), unpack(parts[3]), parts[4:]
            )
            return request, ws_msg
        msg = json.loads(ws_msg) if isinstance(ws_msg, str | bytes) else ws_msg
        if msg.get("channel") != "shell" or msg.get("header", {}).get("msg_type") != (
            "execute_request"
        ):
            return None, ws_msg
        request = _Request(
            "shell",
            msg["header"],
            msg.get("parent_header") or {},
            msg.get("metadata") or {},
            msg.get("content") or {},
            msg.get("buffers") or [],
        )
        return request, ws_msg

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        if not self.channels:
            super().handle_incoming_message(incoming_msg)
            return
        try:
            request, raw = self._unpack(incoming_msg)
        except Exception:  # malformed: let jupyter_server reject it as it would
            super().handle_incoming_message(incoming_msg)
            return
        if request is None:
            super().handle_incoming_message(raw)
            return
        try:
            self._govern(request)
        except Exception as exc:  # a Grace failure refuses the cell, never forwards it
            self._refuse(request, f"Grace could not check this cell ({type(exc).__name__}: {exc})")

    def _govern(self, request: _Request) -> None:
        service = self.grace
        if service is None:
            self._refuse(request, "the Grace server extension is not loaded; cells are refused")
            return
        source = str(request.content.get("code", ""))
        cell_id = str(request.metadata.get("cellId") or f"#{request.header.get('msg_id', '?')}")
        decision, code_sha = service.decide_cell(
            source,
            user=self.user,
            kernel_id=self.kernel_id,
            notebook=self._notebook,
            cell_id=cell_id,
        )
        found = decision.action.findings
        if found.max_severity >= Severity.HIGH:  # for the burst triggers, whatever was decided
            rules = ", ".join(sorted(found.rule_ids))
            where = f"{self._notebook}#{cell_id}"
            service.signal(
                self.kernel_id,
                "findings",
                found.max_severity,
                f"{where}: {rules}",
                notebook=self._notebook,
            )
        if decision.effect is Effect.DENY:
            service.record_cell(
                notebook=self._notebook,
                cell_id=cell_id,
                code_sha256=code_sha,
                outputs=[],
                status="denied",
                decision=decision,
                started=time.time(),
                kernel_id=self.kernel_id,
                guard_blocks=[],
            )
            self._refuse(request, _denial_text(decision), decision=decision)
            return
        if decision.effect is Effect.REQUIRE_APPROVAL:
            assert decision.approval_id is not None
            self._send_to_frontend(
                "iopub",
                "stream",
                {
                    "name": "stderr",
                    "text": f"[grace] waiting for approval {decision.approval_id}: "
                    f"{'; '.join(decision.reasons)}. Another person approves it in the Grace "
                    f"panel or with `grace approvals approve {decision.approval_id}`.\n",
                },
                request.header,
            )
            service.hold(
                Held(
                    approval_id=decision.approval_id,
                    release=lambda final: self._forward(request, final, cell_id, code_sha),
                    refuse=lambda why: self._refuse(request, why),
                    since=time.time(),
                )
            )
            return
        self._forward(request, decision, cell_id, code_sha)

    def _forward(self, request: _Request, decision: Decision, cell_id: str, code_sha: str) -> None:
        if not decision.allowed:
            self._refuse(request, _denial_text(decision), decision=decision)
            return
        metadata = dict(request.metadata)
        metadata["grace"] = {
            "decision_id": decision.decision_id,
            "decision_index": decision.ledger_index,
            "effect": decision.effect.value,
            "obligations": sorted(decision.obligations),
            "approval_id": decision.approval_id,
            "mode": decision.mode,
        }
        self._running[str(request.header.get("msg_id"))] = _Running(
            cell_id=cell_id,
            code_sha256=code_sha,
            decision=decision,
            started=time.time(),
            parent=dict(request.header),
        )
        stream = self.channels[request.channel]
        if self.subprotocol == V1:
            pack = self.session.pack
            parts = [
                pack(request.header),
                pack(request.parent_header),
                pack(metadata),
                pack(request.content),
                *request.buffers,
            ]
            self.session.send_raw(stream, parts)
        else:
            msg = {
                "header": request.header,
                "parent_header": request.parent_header,
                "metadata": metadata,
                "content": request.content,
                "buffers": request.buffers,
            }
            self.session.send(stream, msg)

    def _refuse(self, request: _Request, text: str, *, decision: Decision | None = None) -> None:
        """Answer an execute_request the kernel never saw: error output + execute_reply."""
        ename = "GracePolicyDenied"
        if decision is not None and decision.effect is Effect.REQUIRE_APPROVAL:
            ename = "GraceApprovalRequired"
        traceback = [f"{ename}: {text}"]
        if decision is not None:
            traceback.extend(decision.explain().splitlines())
        self._answer_error(request.header, ename, text, traceback)

    def _answer_error(
        self, parent: dict[str, Any], ename: str, text: str, traceback: list[str]
    ) -> None:
        """An error output and an error execute_reply for ``parent``, between busy and idle."""
        error = {"ename": ename, "evalue": text, "traceback": traceback}
        self._send_to_frontend("iopub", "status", {"execution_state": "busy"}, parent)
        self._send_to_frontend("iopub", "error", error, parent)
        reply = {"status": "error", "execution_count": None, **error}
        self._send_to_frontend("shell", "execute_reply", reply, parent)
        self._send_to_frontend("iopub", "status", {"execution_state": "idle"}, parent)

    def _send_to_frontend(
        self, channel: str, msg_type: str, content: dict[str, Any], parent: dict[str, Any]
    ) -> None:
        msg = self.session.msg(msg_type, content=content, parent=parent)
        if self.subprotocol == V1:
            self.write_message(serialize_msg_to_ws_v1(msg, channel, self.session.pack), binary=True)
        else:
            msg["channel"] = channel
            self.write_message(json.dumps(msg, default=json_default))

    # ------------------------------------------------------------------ outgoing

    def handle_outgoing_message(self, stream: str, outgoing_msg: list[Any]) -> None:
        try:
            outgoing_msg = self._inspect(stream, outgoing_msg)
        except Exception as exc:  # never lose the kernel's message over a recording bug
            self.log.error("Grace could not inspect a kernel message: %s", exc)
        super().handle_outgoing_message(stream, outgoing_msg)

    def _inspect(self, stream: Any, outgoing_msg: list[Any]) -> list[Any]:
        """Redact secrets in outputs, collect a governed cell's outputs, record it when done.

        Returns the message to pass on: the same list, or one with its content
        replaced (and re-signed) when a secret was redacted.
        """
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if channel not in {"iopub", "shell", "stdin"}:
            return outgoing_msg
        idents, fed = self.session.feed_identities(outgoing_msg)
        kind = self.session.unpack(fed[1]).get("msg_type")
        # Only a governed cell still running needs its parent: most messages skip that parse.
        parent_id = str(self.session.unpack(fed[2]).get("msg_id")) if self._running else ""
        running = self._running.get(parent_id) if parent_id else None
        shown = (channel == "iopub" and kind in _REDACTED_TYPES) or (
            channel == "stdin" and kind == "input_request"
        )
        if shown and self.grace is not None:
            content = self.session.unpack(fed[4])
            redact_all = running is not None and "redact" in running.decision.obligations
            cleaned, rules = _redact(content, self.grace.scanner, redact_all=redact_all)
            if rules:
                if running is not None:
                    running.redactions.extend(rules)
                parts: list[Any] = [*fed]
                parts[4] = self.session.pack(cleaned)
                parts[0] = self.session.sign(parts[1:5])  # the content changed: sign it again
                outgoing_msg = [*idents, DELIM, *parts]
                self.log.warning("Grace redacted %d secret(s) in a %s message", len(rules), kind)
            if running is not None and kind in _OUTPUT_TYPES:
                running.outputs.append(_as_output(kind, cleaned))
            return outgoing_msg
        if running is None:
            return outgoing_msg
        if channel == "shell" and kind == "execute_reply":
            meta = self.session.unpack(fed[3]).get("grace") or {}
            blocks = meta.get("guard_blocks") if isinstance(meta, dict) else None
            running.guard_blocks = [b for b in blocks or [] if isinstance(b, dict)][:100]
            if self.session.unpack(fed[4]).get("status") != "ok":
                running.status = "error"
        elif kind == "clear_output":
            running.outputs.clear()
        elif kind == "status" and self.session.unpack(fed[4]).get("execution_state") == "idle":
            del self._running[parent_id]
            self._record(running)
        return outgoing_msg

    def on_kernel_restarted(self) -> None:
        """The kernel was restarted (by the watchdog or jupyter_client): its cells are lost."""
        self._abandon("lost: the kernel was restarted while the cell ran")
        super().on_kernel_restarted()

    def on_restart_failed(self) -> None:
        self._abandon("lost: the kernel died and was not restarted")
        super().on_restart_failed()

    def _abandon(self, status: str) -> None:
        """Record the cells that were running: what they printed so far is not lost."""
        running, self._running = list(self._running.values()), {}
        for cell in running:
            cell.status = status
            try:
                self._record(cell)
            except Exception as exc:  # the store may be the thing that is down
                self.log.error("Grace could not record lost cell %s: %s", cell.cell_id, exc)
            if cell.parent:  # no client waits forever for a reply that cannot come
                text = status.removeprefix("lost: ")
                self._answer_error(
                    cell.parent, "GraceKernelLost", text, [f"GraceKernelLost: {text}"]
                )

    def _record(self, running: _Running) -> None:
        service = self.grace
        if service is None:
            return
        index = service.record_cell(
            notebook=self._notebook,
            cell_id=running.cell_id,
            code_sha256=running.code_sha256,
            outputs=running.outputs,
            status=running.status,
            decision=running.decision,
            started=running.started,
            kernel_id=self.kernel_id,
            guard_blocks=running.guard_blocks,
            redactions=running.redactions,
        )
        for block in running.guard_blocks:  # alerts, Jupyter's event bus, the burst triggers
            what = f"{block.get('event', '?')} {block.get('target', '?')}"
            service.signal(
                self.kernel_id, "guard-block", Severity.HIGH, what, notebook=self._notebook
            )
            service.workspace.events.emit(
                guard_blocked(
                    block,
                    principal=f"kernel:{self.kernel_id}",
                    cell=f"{self._notebook}#{running.cell_id}",
                    record_index=index,
                )
            )


def _redact(
    content: dict[str, Any], scanner: Scanner, *, redact_all: bool
) -> tuple[dict[str, Any], list[str]]:
    """``content`` with every secret replaced; the rule id of each one replaced."""
    rules: list[str] = []

    def clean(text: str) -> str:
        hits = [
            h
            for h in scanner.secrets.scan(text)
            if redact_all or h.rule.confidence >= Confidence.HIGH
        ]
        for hit in sorted(hits, key=lambda h: h.start, reverse=True):
            rules.append(hit.rule.id)
            text = (
                text[: hit.start] + f"[secret redacted by Grace: {hit.rule.id}]" + text[hit.end :]
            )
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    carried = {"text", "data", "evalue", "traceback", "prompt"}  # where shown text lives
    cleaned = {k: (walk(v) if k in carried else v) for k, v in content.items()}
    return (cleaned if rules else content), rules


def _as_output(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    """An iopub message as the nbformat output JupyterLab will save."""
    if kind == "stream":
        return {"output_type": "stream", "name": content.get("name"), "text": content.get("text")}
    if kind == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename"),
            "evalue": content.get("evalue"),
            "traceback": content.get("traceback", []),
        }
    out = {
        "output_type": kind,
        "data": content.get("data", {}),
        "metadata": content.get("metadata", {}),
    }
    if kind == "execute_result":
        out["execution_count"] = content.get("execution_count")
    return out


def _denial_text(decision: Decision) -> str:
    ids = ", ".join(decision.policy_ids) or "no policy permits it"
    return (
        f"Grace refused this cell [{ids}]: {'; '.join(decision.reasons) or decision.effect.value}"
    )
