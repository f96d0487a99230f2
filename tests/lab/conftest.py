"""A real jupyter_server with Grace and roles, for the JupyterLab extension's endpoints.

``X-Test-User: name`` authenticates as ``name`` (like a token, so no XSRF
check). Roles: ``vera`` viewer, ``alice`` and ``bob`` approvers, ``root``
admin; anyone else gets nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse

from grace_kernel.server._auth import GraceAuthorizer
from grace_kernel.server._service import ServerService
from tests.server import conftest as server_setup
from tests.server.test_api import HeaderIdentity

grace_home = server_setup.grace_home  # the server tests' workspace fixture


@pytest.fixture
def jp_server_config(grace_home: Path) -> dict[str, Any]:
    assert not grace_home.exists()
    return {
        "ServerApp": {
            "jpserver_extensions": {"grace_kernel.server": True},
            "authorizer_class": GraceAuthorizer,
            "identity_provider_class": HeaderIdentity,
        },
        "GraceAuthorizer": {
            "viewers": {"vera"},
            "approvers": {"alice", "bob"},
            "admins": {"root"},
            "default_role": "none",
        },
    }


class Api:
    """``await api(user, path, method=..., body=...)``: status and JSON, errors included."""

    def __init__(self, fetch: Any, service: ServerService, root: Path) -> None:
        self.fetch = fetch
        self.service = service
        self.root = root

    async def __call__(
        self, user: str, path: str, *, method: str = "GET", body: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        if method == "POST" and body is None:
            body = {}
        response: HTTPResponse = await self.fetch(
            "grace",
            "api",
            path,
            method=method,
            body=None if body is None else json.dumps(body),
            headers={"X-Test-User": user},
            raise_error=False,
            **kw,
        )
        return response.code, json.loads(response.body or b"null")


@pytest.fixture
def api(jp_fetch: Any, jp_serverapp: Any, jp_root_dir: Path) -> Api:
    return Api(jp_fetch, jp_serverapp.web_app.settings["grace_service"], jp_root_dir)


def code_cell(cell_id: str, source: str) -> dict[str, Any]:
    """An nbformat 4.5 code cell that never ran."""
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def notebook(cells: list[dict[str, Any]], *, kernel: str = "python3") -> dict[str, Any]:
    """An nbformat 4.5 notebook (written as JSON: nbformat's builders are untyped)."""
    spec = {"name": kernel, "display_name": "Python 3", "language": "python"}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": spec}, "cells": cells}
