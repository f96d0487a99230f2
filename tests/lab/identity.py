"""A test-only identity provider: several tokens, each naming its own user.

jupyter_server's default provider gives every holder of the one token the same
anonymous user; the browser tests need two people (one runs cells, another
approves them). Start a server with::

    --ServerApp.identity_provider_class=tests.lab.identity.TokenUsers
    --TokenUsers.users='{"tok-alice": "alice", "tok-bob": "bob"}'
    --IdentityProvider.token=

There is no shared token (JupyterLab would otherwise send it with every
request, making everyone the same person). The token in the URL
(``?token=``) or the ``Authorization`` header picks the user; the login cookie
set then keeps them logged in. Never for real servers.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from tornado.web import RequestHandler
from traitlets import Dict, Unicode


class TokenUsers(IdentityProvider):
    users = Dict(
        key_trait=Unicode(), value_trait=Unicode(), help="token -> user name (tests only)"
    ).tag(config=True)

    @property
    def auth_enabled(self) -> bool:
        return True  # no shared token: each person has their own

    async def get_user_token(self, handler: RequestHandler) -> Any:
        token = self.get_token(handler)
        name = self.users.get(token) if token else None
        return User(username=name) if name else None
