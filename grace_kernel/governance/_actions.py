"""What governance decides about: action kinds, principals, and actions with their facts."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping
from typing import Any

from grace_kernel.errors import InputError
from grace_kernel.ledger import canonical_json

__all__ = [
    "RESOURCE_TYPES",
    "Action",
    "ActionKind",
    "Findings",
    "Principal",
    "PrincipalType",
    "Severity",
]


class ActionKind(enum.StrEnum):
    """Every risky operation Grace governs (DESIGN.md §2); the Cedar action ids."""

    CELL_EXECUTE = "cell.execute"
    FILE_READ = "file.read"
    FILE_WRITE = "file.write"
    FILE_DELETE = "file.delete"
    FILE_QUARANTINE = "file.quarantine"
    FILE_RESTORE = "file.restore"
    SHELL_RUN = "shell.run"
    NET_CONNECT = "net.connect"
    PACKAGE_INSTALL = "package.install"
    KNOWLEDGE_INGEST = "knowledge.ingest"
    KNOWLEDGE_FORGET = "knowledge.forget"
    MODEL_TRAIN = "model.train"
    MODEL_DEPLOY = "model.deploy"
    SECRET_READ = "secret.read"  # noqa: S105  # an action name, not a secret
    API_CALL = "api.call"
    CONFIG_CHANGE = "config.change"
    FEDERATION_ACCEPT = "federation.accept"
    SANDBOX_RUN = "sandbox.run"


RESOURCE_TYPES: Mapping[ActionKind, str] = {
    ActionKind.CELL_EXECUTE: "Cell",
    ActionKind.FILE_READ: "File",
    ActionKind.FILE_WRITE: "File",
    ActionKind.FILE_DELETE: "File",
    ActionKind.FILE_QUARANTINE: "File",
    ActionKind.FILE_RESTORE: "File",
    ActionKind.SHELL_RUN: "Command",
    ActionKind.NET_CONNECT: "Host",
    ActionKind.PACKAGE_INSTALL: "Package",
    ActionKind.KNOWLEDGE_INGEST: "Document",
    ActionKind.KNOWLEDGE_FORGET: "Document",
    ActionKind.MODEL_TRAIN: "Model",
    ActionKind.MODEL_DEPLOY: "Model",
    ActionKind.SECRET_READ: "Secret",
    ActionKind.API_CALL: "Endpoint",
    ActionKind.CONFIG_CHANGE: "Setting",
    ActionKind.FEDERATION_ACCEPT: "Peer",
    ActionKind.SANDBOX_RUN: "Job",
}


class PrincipalType(enum.StrEnum):
    USER = "User"  # a person, authenticated by the trusted side (OS user, Jupyter user)
    KERNEL = "Kernel"  # code running in a notebook kernel, on someone's behalf
    RUNNER = "Runner"  # a papermill or scheduled run, on someone's behalf
    SERVICE = "Service"  # Grace itself (connectors, supervisor)


class Severity(enum.IntEnum):
    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


def _cedar_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who acts.  ``on_behalf_of`` names the person a kernel or runner acts for."""

    type: PrincipalType
    id: str
    on_behalf_of: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InputError("a principal needs a non-empty id")

    @classmethod
    def user(cls, name: str) -> Principal:
        return cls(PrincipalType.USER, name)

    @classmethod
    def kernel(cls, kernel_id: str, *, on_behalf_of: str | None) -> Principal:
        return cls(PrincipalType.KERNEL, kernel_id, on_behalf_of)

    @classmethod
    def runner(cls, run_id: str, *, on_behalf_of: str | None) -> Principal:
        return cls(PrincipalType.RUNNER, run_id, on_behalf_of)

    @classmethod
    def service(cls, name: str = "grace") -> Principal:
        return cls(PrincipalType.SERVICE, name)

    @classmethod
    def parse(cls, text: str) -> Principal:
        """``User::"alice"`` (Cedar form) or ``user:alice``."""
        if "::" in text:
            kind, _, rest = text.partition("::")
            ident = rest.strip()
            if len(ident) < 2 or ident[0] != '"' or ident[-1] != '"':
                raise InputError(f'principal {text!r}: expected Type::"id"')
            ident = ident[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        else:
            kind, _, ident = text.partition(":")
        by_name = {t.value.lower(): t for t in PrincipalType}
        if kind.strip().lower() not in by_name or not ident:
            types = ", ".join(t.value for t in PrincipalType)
            raise InputError(f"principal {text!r}: type must be one of {types}")
        return cls(by_name[kind.strip().lower()], ident)

    @property
    def uid(self) -> str:
        return f"{self.type.value}::{_cedar_string(self.id)}"

    @property
    def label(self) -> str:
        return f"{self.type.value.lower()}:{self.id}"

    @property
    def person(self) -> str | None:
        """The human accountable for this principal's actions, if any."""
        if self.type is PrincipalType.USER:
            return self.id
        return self.on_behalf_of

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "id": self.id, "on_behalf_of": self.on_behalf_of}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Principal:
        return cls(PrincipalType(doc["type"]), doc["id"], doc.get("on_behalf_of"))


@dataclasses.dataclass(frozen=True, slots=True)
class Findings:
    """What Hunter found in the action's content, summarized for policy."""

    count: int = 0
    max_severity: Severity = Severity.NONE
    rule_ids: frozenset[str] = frozenset()

    def to_context(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "max_severity": int(self.max_severity),
            "rule_ids": sorted(self.rule_ids),
        }


@dataclasses.dataclass(frozen=True, kw_only=True)
class Action:
    """One risky operation, described by facts computed on the trusted side.

    ``resource`` identifies the target (a path, host, command line, package
    spec, ...); ``facts`` are the typed context fields the fact builders in
    :mod:`grace_kernel.governance` compute from it; ``detail`` is recorded in
    the ledger but never seen by policy (e.g. a code digest).
    """

    kind: ActionKind
    principal: Principal
    resource: str
    facts: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    findings: Findings = Findings()
    sandbox_level: int = 0
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ActionKind):
            raise InputError(f"unknown action kind {self.kind!r}")
        if not isinstance(self.resource, str) or not self.resource:
            raise InputError("an action needs a resource")

    @property
    def resource_uid(self) -> str:
        return f"{RESOURCE_TYPES[self.kind]}::{_cedar_string(self.resource)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "principal": self.principal.to_json(),
            "resource": self.resource,
            "facts": dict(self.facts),
            "findings": self.findings.to_context(),
            "sandbox_level": self.sandbox_level,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Action:
        """Rebuild an action from :meth:`to_json` (e.g. from a stored approval request)."""
        try:
            findings = doc.get("findings", {})
            return cls(
                kind=ActionKind(doc["kind"]),
                principal=Principal.from_json(doc["principal"]),
                resource=doc["resource"],
                facts=dict(doc.get("facts", {})),
                findings=Findings(
                    count=int(findings.get("count", 0)),
                    max_severity=Severity(int(findings.get("max_severity", 0))),
                    rule_ids=frozenset(findings.get("rule_ids", ())),
                ),
                sandbox_level=int(doc.get("sandbox_level", 0)),
                detail=dict(doc.get("detail", {})),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"not a stored action: {exc}") from None

    def fingerprint(self) -> str:
        """SHA-256 of what policy sees about this action: same request, same fingerprint."""
        body = self.to_json()
        body.pop("detail")
        return hashlib.sha256(canonical_json(body)).hexdigest()
