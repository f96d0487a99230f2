"""Who may do what through Grace's REST API: viewer, approver, admin.

Roles are on only when the server uses this authorizer::

    jupyter lab --ServerApp.authorizer_class=grace_kernel.server._auth.GraceAuthorizer \\
        --GraceAuthorizer.approvers='["alice"]' --GraceAuthorizer.admins='["root"]'

Roles nest: an admin is also an approver, an approver also a viewer.  An
authenticated user named in no list gets ``default_role`` (``viewer`` unless
configured; ``none`` gives them nothing).  A request without a username gets
nothing.

For the ``grace`` resource the actions are:

* ``read`` — viewer: status, approvals, alerts, ledger reads, proofs, verify,
  scans and policy explanations (nothing changes).
* ``write`` — approver: moving alerts (ack, resolve, false-positive).
* ``approve`` — approver: approving and denying approval requests.
* ``admin`` — admin: signing a ledger checkpoint.

Every other resource (contents, kernels, terminals, ...) is left as
jupyter_server's default authorizer leaves it: allowed for any authenticated
user, so Jupyter keeps working.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from traitlets import Enum, Set, Unicode

__all__ = ["ACTION_ROLES", "RESOURCE", "ROLES", "GraceAuthorizer"]

RESOURCE = "grace"
ROLES = ("viewer", "approver", "admin")  # each includes the ones before it
ACTION_ROLES = {"read": "viewer", "write": "approver", "approve": "approver", "admin": "admin"}


class GraceAuthorizer(Authorizer):
    """Role-based authorization for the ``grace`` resource; allow-all elsewhere."""

    viewers = Set(Unicode(), default_value=set(), help="Usernames with the viewer role.").tag(
        config=True
    )
    approvers = Set(
        Unicode(), default_value=set(), help="Usernames that may approve and triage alerts."
    ).tag(config=True)
    admins = Set(
        Unicode(), default_value=set(), help="Usernames with every role (checkpoints too)."
    ).tag(config=True)
    default_role = Enum(
        ["viewer", "approver", "admin", "none"],
        default_value="viewer",
        help="Role of an authenticated user named in no list ('none': no access to Grace).",
    ).tag(config=True)

    def role_of(self, user: Any) -> str | None:
        """The highest role of ``user``; None for anonymous users or role ``none``."""
        name = getattr(user, "username", None) if user is not None else None
        if not name:
            return None
        if name in self.admins:
            return "admin"
        if name in self.approvers:
            return "approver"
        if name in self.viewers:
            return "viewer"
        return None if self.default_role == "none" else str(self.default_role)

    def is_authorized(
        self,
        handler: Any,  # noqa: ARG002  # the base class's signature
        user: Any,
        action: str,
        resource: str,
    ) -> bool:
        if resource != RESOURCE:
            return True  # jupyter_server's default: any authenticated user
        needed = ACTION_ROLES.get(action)
        role = self.role_of(user)
        if needed is None or role is None:
            return False
        return ROLES.index(role) >= ROLES.index(needed)
