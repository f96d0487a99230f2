"""Grace's REST API in a real jupyter_server, with roles (GraceAuthorizer).

Who is asking comes from a test identity provider: the ``X-Test-User`` header
names the user (as a token would, so no XSRF check); without it the server's
own token and cookie authentication apply.  Roles: ``vera`` viewer, ``bob``
approver, ``root`` admin, ``alice`` (the person cells act for) approver too, so
that refusing her own approval is governance's doing, not the role's.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import AllowAllAuthorizer
from jupyter_server.auth.identity import IdentityProvider, User
from tornado.httpclient import HTTPClientError, HTTPResponse
from tornado.web import RequestHandler

from grace_kernel.governance import Action, ActionKind, Findings, Principal, Severity
from grace_kernel.server._auth import GraceAuthorizer
from grace_kernel.server._handlers import handlers
from grace_kernel.server._service import ServerService
from tests.server.test_websocket import Kernel, _execute, text_of

pytest_plugins = ["pytest_jupyter.jupyter_server"]

KERNEL = Principal.kernel("k1", on_behalf_of="alice")


class HeaderIdentity(IdentityProvider):
    """``X-Test-User: name`` authenticates as ``name`` (like a token); else the usual way."""

    def get_user(self, handler: RequestHandler) -> Any:
        name = handler.request.headers.get("X-Test-User")
        if name:
            handler._token_authenticated = True  # type: ignore[attr-defined]
            return User(username=name)
        return super().get_user(handler)


@pytest.fixture
def jp_server_config(grace_home: Path) -> dict[str, Any]:
    assert not grace_home.exists()  # set before the server starts; the server creates it
    return {
        "ServerApp": {
            "jpserver_extensions": {"grace_kernel.server": True},
            "authorizer_class": GraceAuthorizer,
            "identity_provider_class": HeaderIdentity,
        },
        "GraceAuthorizer": {
            "viewers": {"vera"},
            "approvers": {"bob", "alice"},
            "admins": {"root"},
            "default_role": "none",
        },
    }


class Api:
    """``await api(user, path, method=..., body=...)``: status and JSON, errors included."""

    def __init__(self, fetch: Any, service: ServerService) -> None:
        self.fetch = fetch
        self.service = service

    async def __call__(
        self, user: str | None, path: str, *, method: str = "GET", body: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = {"X-Test-User": user} if user else {"Authorization": "token not-the-token"}
        if method == "POST" and body is None:
            body = {}
        payload = None if body is None else json.dumps(body)
        response: HTTPResponse = await self.fetch(
            "grace",
            "api",
            path,
            method=method,
            body=payload,
            headers=headers,
            raise_error=False,
            **kw,
        )
        return response.code, json.loads(response.body or b"null")


@pytest.fixture
def api(jp_fetch: Any, jp_serverapp: Any) -> Api:
    """The API of the running server (the extension registered it at load)."""
    return Api(jp_fetch, jp_serverapp.web_app.settings["grace_service"])


def pending_approval(service: ServerService) -> str:
    """A high-risk cell the kernel ran for alice: it needs another person's approval."""
    action = Action(
        kind=ActionKind.CELL_EXECUTE,
        principal=KERNEL,
        resource="cell-high",
        facts={},
        findings=Findings(count=1, max_severity=Severity.HIGH, rule_ids=frozenset({"test-rule"})),
    )
    decision = service.workspace.governance.govern(action)
    assert decision.approval_id is not None
    return decision.approval_id


# ---------------------------------------------------------------- roles


async def test_a_viewer_reads_but_cannot_approve(api: Api) -> None:
    approval_id = pending_approval(api.service)

    code, status = await api("vera", "status")
    assert code == 200
    assert status["user"] == {"name": "vera", "role": "viewer", "roles_enabled": True}
    assert status["governance"]["pending_approvals"] == 1

    code, listed = await api("vera", "approvals", params={"state": "pending"})
    assert code == 200
    assert [r["id"] for r in listed] == [approval_id]

    code, shown = await api("vera", f"approvals/{approval_id}")
    assert (code, shown["state"], shown["person"]) == (200, "pending", "alice")

    code, refused = await api("vera", f"approvals/{approval_id}/approve", method="POST")
    assert code == 403
    assert "not authorized" in refused["message"]
    assert api.service.workspace.governance.approvals.get(approval_id).state == "pending"


async def test_an_approver_approves_another_persons_request(api: Api) -> None:
    approval_id = pending_approval(api.service)
    code, decided = await api(
        "bob", f"approvals/{approval_id}/approve", method="POST", body={"reason": "reviewed"}
    )
    assert code == 200
    assert (decided["state"], decided["decided_by"], decided["note"]) == (
        "approved",
        "user:bob",
        "reviewed",
    )
    assert api.service.workspace.governance.approvals.get(approval_id).state == "approved"

    code, again = await api("bob", f"approvals/{approval_id}/deny", method="POST")
    assert code == 400
    assert again["ok"] is False
    assert "already approved" in again["error"]["message"]


async def test_the_person_a_request_acts_for_cannot_approve_it(api: Api) -> None:
    approval_id = pending_approval(api.service)
    code, refused = await api("alice", f"approvals/{approval_id}/approve", method="POST")
    assert code == 403
    assert refused["ok"] is False
    assert refused["error"]["kind"] == "policy"
    assert "self-approval" in refused["error"]["message"]
    assert api.service.workspace.governance.approvals.get(approval_id).state == "pending"

    code, denied = await api("bob", f"approvals/{approval_id}/deny", method="POST")
    assert (code, denied["state"]) == (200, "denied")


async def test_unlisted_and_unauthenticated_users_get_nothing(api: Api) -> None:
    assert (await api("mallory", "status"))[0] == 403  # default_role none
    code, _ = await api(None, "status")
    assert code == 403  # jupyter_server answers an API request without a user with 403
    assert (await api(None, "scan", method="POST", body={"code": "x = 1"}))[0] == 403


async def test_unknown_ids_are_404(api: Api) -> None:
    code, missing = await api("bob", "approvals/apr-000000000000")
    assert code == 404
    assert missing["error"]["kind"] == "not-found"
    assert (await api("bob", "approvals/apr-000000000000/approve", method="POST"))[0] == 404
    assert (await api("bob", "alerts/alt-0000000000"))[0] == 404
    assert (await api("bob", "ledger/entries/999999"))[0] == 404
    assert (await api("bob", "ledger/proof/999999"))[0] == 404


async def test_bad_input_is_400(api: Api) -> None:
    code, body = await api("vera", "approvals", params={"state": "bogus"})
    assert (code, body["error"]["kind"]) == (400, "input")
    assert (await api("vera", "ledger/tail", params={"n": "lots"}))[0] == 400
    assert (await api("vera", "scan", method="POST", body=[1, 2]))[0] == 400
    assert (await api("vera", "policy/explain", method="POST", body={"action": "nope"}))[0] == 400


# ---------------------------------------------------------------- alerts


async def test_alerts_are_listed_and_moved_by_approvers(api: Api) -> None:
    pending_approval(api.service)  # a blocked decision opens an alert
    code, alerts = await api("vera", "alerts", params={"state": "open"})
    assert code == 200
    assert len(alerts) == 1
    alert_id = alerts[0]["id"]
    assert (await api("vera", f"alerts/{alert_id}"))[1]["state"] == "open"

    assert (await api("vera", f"alerts/{alert_id}/ack", method="POST"))[0] == 403
    code, acked = await api("bob", f"alerts/{alert_id}/ack", method="POST", body={"reason": "mine"})
    assert (code, acked["state"], acked["changed_by"]) == (200, "acknowledged", "user:bob")
    code, closed = await api("bob", f"alerts/{alert_id}/false-positive", method="POST")
    assert (code, closed["state"]) == (200, "false-positive")
    assert (await api("bob", f"alerts/{alert_id}/resolve", method="POST"))[0] == 400


# ---------------------------------------------------------------- ledger


async def test_ledger_tail_entry_proof_checkpoint_and_verify(api: Api) -> None:
    pending_approval(api.service)
    size = api.service.workspace.ledger.size
    code, tail = await api("vera", "ledger/tail", params={"n": "2"})
    assert code == 200
    assert [e["index"] for e in tail] == [size - 2, size - 1]

    code, entry = await api("vera", f"ledger/entries/{size - 1}")
    assert code == 200
    assert entry["statement"]["predicateType"] == entry["predicate_type"]

    assert (await api("bob", "ledger/checkpoint", method="POST"))[0] == 403  # admin only
    code, checkpoint = await api("root", "ledger/checkpoint", method="POST")
    assert (code, checkpoint["size"]) == (200, size)

    code, proof = await api("vera", "ledger/proof/0")
    assert code == 200
    assert proof["verified"] is True
    assert proof["root_signed_by_checkpoint"] is True

    code, report = await api("vera", "ledger/verify", method="POST")
    assert (code, report["ok"]) == (200, True)


# ---------------------------------------------------------------- scan, policy, health


async def test_scan_code_and_files_inside_the_root_only(api: Api, jp_root_dir: Path) -> None:
    code, scanned = await api(
        "vera", "scan", method="POST", body={"code": "import os\nos.system(input())\n"}
    )
    assert code == 200
    assert scanned["findings"], scanned

    (jp_root_dir / "job.py").write_text("import pickle\npickle.loads(open('x', 'rb').read())\n")
    code, scanned = await api("vera", "scan", method="POST", body={"path": "job.py"})
    assert code == 200
    assert scanned["files"] == 1
    assert scanned["findings"]

    outside = jp_root_dir.parent / "outside.py"
    outside.write_text("x = 1\n")
    for path in ("../outside.py", str(outside)):
        code, refused = await api("vera", "scan", method="POST", body={"path": path})
        assert code == 400, path
        assert "outside the server root" in refused["error"]["message"]


async def test_policy_explain_and_health(api: Api) -> None:
    code, decision = await api(
        "vera", "policy/explain", method="POST", body={"action": "file.read", "resource": "a.csv"}
    )
    assert code == 200
    assert decision["effect"] in {"allow", "deny", "require_approval"}
    assert decision["explanation"]

    code, health = await api("vera", "health")
    assert code == 200
    assert health["mode"] == "normal"
    assert health["incidents"] == []
    names = [c["name"] for c in health["components"]]
    assert names == ["store", "policy", "scanner", "process", "hold-checker"]


# ---------------------------------------------------------------- XSRF, wiring


@pytest.mark.usefixtures("api")
async def test_heal_and_the_mode_floor_through_the_api(api: Api) -> None:
    code, _ = await api("vera", "health/heal", method="POST")
    assert code == 403  # healing restarts things: approvers and admins only
    code, done = await api("bob", "health/heal", method="POST", body={"dry_run": True})
    assert code == 200
    assert done["dry_run"] is True
    assert done["actions"] == []
    assert {c["name"] for c in done["status"]["components"]} >= {"store", "policy", "scanner"}
    code, done = await api("bob", "health/heal", method="POST", body={"component": "scanner"})
    assert (code, done["actions"][0]["component"]) == (200, "scanner")
    code, _ = await api("bob", "health/heal", method="POST", body={"component": "nope"})
    assert code == 404
    code, _ = await api("bob", "health/heal", method="POST", body={"dry_run": "yes"})
    assert code == 400

    # The floor: governed as config.change, so the first answer is the approval to get.
    code, asked = await api("bob", "health/mode", method="POST", body={"mode": "safe"})
    assert code == 202
    approval_id = asked["approval_id"]
    code, _ = await api("alice", f"approvals/{approval_id}/approve", method="POST")
    assert code == 200
    code, done = await api("bob", "health/mode", method="POST", body={"mode": "safe"})
    assert (code, done["to"], done["mode"]) == (200, "safe", "safe")
    code, health = await api("vera", "health")
    assert (health["mode"], health["manual"]) == ("safe", "safe")
    code, _ = await api("bob", "health/mode", method="POST", body={"mode": "calm"})
    assert code == 400


async def test_a_cookie_session_post_without_xsrf_token_is_refused(jp_fetch: Any) -> None:
    # A token login sets the login cookie a browser session then uses.
    first = await jp_fetch("api", "status")
    cookies = SimpleCookie()
    for header in first.headers.get_list("Set-Cookie"):
        cookies.load(header)
    login = {k: m.value for k, m in cookies.items() if k.startswith("username-")}
    assert login, first.headers
    cookie = "; ".join(f"{k}={v}" for k, v in login.items())
    headers = {"Cookie": cookie, "Authorization": ""}

    read = await jp_fetch("api", "me", headers=headers)
    assert read.code == 200  # the cookie alone authenticates
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(
            "grace", "api", "ledger", "verify", method="POST", body="{}", headers=headers
        )
    assert caught.value.code == 403
    assert caught.value.response is not None
    assert b"xsrf" in caught.value.response.body.lower()


def test_handlers_are_rooted_at_the_base_url() -> None:
    patterns = [pattern for pattern, _, _ in handlers("/base/")]
    assert "/base/grace/api/status$" in patterns
    assert all(p.startswith("/base/grace/api/") for p in patterns)


async def test_without_the_service_every_endpoint_answers_503(api: Api, jp_serverapp: Any) -> None:
    settings = jp_serverapp.web_app.settings
    saved = settings.pop("grace_service")
    try:
        code, body = await api("root", "status")
        assert code == 503
        assert "Grace is not running" in body["error"]["message"]
        assert (await api("root", "ledger/checkpoint", method="POST"))[0] == 503
    finally:
        settings["grace_service"] = saved


async def test_without_grace_authorizer_the_servers_authorizer_decides(
    api: Api, jp_serverapp: Any
) -> None:
    settings = jp_serverapp.web_app.settings
    saved = settings["authorizer"]
    settings["authorizer"] = AllowAllAuthorizer(identity_provider=saved.identity_provider)
    try:
        code, status = await api("mallory", "status")
        assert code == 200
        assert status["user"] == {"name": "mallory", "role": None, "roles_enabled": False}
        code, _ = await api("mallory", "ledger/checkpoint", method="POST")
        assert code == 200
    finally:
        settings["authorizer"] = saved


async def test_a_tampered_ledger_does_not_verify(api: Api) -> None:
    pending_approval(api.service)
    db = sqlite3.connect(api.service.workspace.settings.db_path)
    try:
        with db:
            db.execute("UPDATE ledger_entries SET envelope = ? WHERE idx = 1", [b"\xff{"])
    finally:
        db.close()
    code, report = await api("vera", "ledger/verify", method="POST")
    assert code == 409
    assert report["ok"] is False
    assert report["problem"]


async def test_a_held_cell_runs_once_another_person_approves_it_through_the_api(
    jp_fetch: Any, jp_ws_fetch: Any, api: Api
) -> None:
    """alice's cell waits; alice cannot approve it herself; bob approves over REST; it runs."""
    alice = {"X-Test-User": "alice"}
    response = await jp_fetch(
        "api",
        "sessions",
        method="POST",
        headers=alice,
        body=json.dumps({"path": "held.ipynb", "type": "notebook", "kernel": {"name": "python3"}}),
    )
    kernel_id = json.loads(response.body)["kernel"]["id"]
    ws = await jp_ws_fetch(
        "api", "kernels", kernel_id, "channels", headers=alice, params={"session_id": "s1"}
    )
    kernel = Kernel(ws, "s1")
    try:
        msg_id = "held-1"
        code = "exec(compile('y = 41', 'generated', 'exec'))"
        await ws.write_message(_execute(kernel.session, msg_id, code, "cell-h"))
        raw = await asyncio.wait_for(ws.read_message(), 60)
        assert raw is not None
        text = json.loads(raw)["content"]["text"]
        approval_id = text.split("waiting for approval ")[1].split(":")[0]

        status, body = await api("alice", f"approvals/{approval_id}/approve", method="POST")
        assert status == 403
        assert "self-approval" in body["error"]["message"]
        status, body = await api(
            "bob", f"approvals/{approval_id}/approve", method="POST", body={"reason": "ok"}
        )
        assert status == 200, body
        reply, _ = await kernel.reply(msg_id)
        assert reply["content"]["status"] == "ok"
        _, iopub = await kernel.execute("print(y + 1)", "cell-i")
        assert text_of(iopub) == "42\n"
    finally:
        ws.close()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE", headers=alice)
