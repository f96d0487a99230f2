"""Fact builders: turn a raw request into the typed context facts policies compare.

They run on the trusted side.  Each resolves what an attacker could disguise:
paths through symlinks and ``..``, hosts through case and brackets, commands
without a shell (and flags any shell syntax), package specs through PEP 508.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from grace_kernel.errors import InputError

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_PACKAGE_INDEX",
    "command_facts",
    "facts_for",
    "host_facts",
    "package_facts",
    "path_facts",
    "trust_facts",
]

DEFAULT_PACKAGE_INDEX = "https://pypi.org/simple"

# Every context field the schema declares, with the neutral value used when an
# action does not concern it.
DEFAULT_CONTEXT: dict[str, Any] = {
    "approved": False,
    "mode": "normal",
    "sandbox_level": 0,
    "findings": {"count": 0, "max_severity": 0, "rule_ids": []},
    "path": "",
    "inside_workspace": False,
    "in_grace_dir": False,
    "host": "",
    "loopback": False,
    "command": "",
    "command_prefixes": [],
    "command_flags": [],
    "shell_syntax": False,
    "package": "",
    "package_pinned": False,
    "package_source": "",
    "package_index": "",
    "trust_permille": 0,
    "sha256": "",
}

_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\*?\[\]{}~!#\n\r]")
_MAX_PREFIX_WORDS = 4


def path_facts(path: str | os.PathLike[str], *, workspace: Path) -> dict[str, Any]:
    """Where ``path`` really points: resolved through ``..`` and symlinks, against the workspace.

    A relative path is taken relative to the workspace root.  The reported
    ``path`` is workspace-relative when inside, absolute otherwise.
    """
    root = workspace.resolve()
    raw = Path(path)
    target = (raw if raw.is_absolute() else root / raw).resolve()
    inside = target == root or target.is_relative_to(root)
    grace_dir = (root / ".grace").resolve()
    in_grace = target == grace_dir or target.is_relative_to(grace_dir)
    shown = target.relative_to(root).as_posix() if inside else str(target)
    return {"path": shown or ".", "inside_workspace": inside, "in_grace_dir": in_grace}


def host_facts(host: str) -> dict[str, Any]:
    """A host name or address, normalized, and whether it is this machine."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name:
        raise InputError("empty host name")
    # Only "localhost" itself: other *.localhost names resolve wherever the
    # resolver (or /etc/hosts) sends them.
    loopback = name == "localhost"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        loopback = address.is_loopback or (
            isinstance(address, ipaddress.IPv6Address)
            and address.ipv4_mapped is not None
            and address.ipv4_mapped.is_loopback
        )
        name = str(address)
    return {"host": name, "loopback": loopback}


def command_facts(command: str | Sequence[str]) -> dict[str, Any]:
    """A command line split without a shell; any shell syntax is flagged, not interpreted.

    ``command_prefixes`` holds the first one to four words joined ("git",
    "git status", ...), which allow-lists match against; ``command_flags``
    the option names used (``--output=x`` gives ``--output``).
    """
    if isinstance(command, str):
        shell_syntax = bool(_SHELL_SYNTAX.search(command))
        try:
            words = shlex.split(command)
        except ValueError:  # unbalanced quotes
            words, shell_syntax = command.split(), True
    else:
        words = [str(w) for w in command]
        shell_syntax = False
    if not words:
        raise InputError("empty command")
    prefixes = [" ".join(words[:n]) for n in range(1, min(len(words), _MAX_PREFIX_WORDS) + 1)]
    flags = sorted({w.split("=", 1)[0] for w in words[1:] if w.startswith("-") and w != "-"})
    return {
        "command": " ".join(words),
        "command_prefixes": prefixes,
        "command_flags": flags,
        "shell_syntax": shell_syntax,
    }


def package_facts(spec: str, *, index: str = DEFAULT_PACKAGE_INDEX) -> dict[str, Any]:
    """A pip requirement: its name, whether it is an exact pin, and where it would come from."""
    text = spec.strip()
    lowered = text.lower()
    if lowered.startswith(("git+", "hg+", "svn+", "bzr+")):
        return _package(text, pinned=False, source="vcs", index=index)
    if re.match(r"^[a-z][a-z0-9+.-]*://", lowered):
        return _package(text, pinned=False, source="url", index=index)
    if text.startswith((".", "/", "~")) or (
        "@" not in text and lowered.endswith((".whl", ".tar.gz", ".zip"))
    ):  # a local archive; "name @ https://.../x.whl" is a URL, handled below
        return _package(text, pinned=False, source="path", index=index)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(f"not a package requirement: {spec!r} ({exc})") from None
    if requirement.url:
        source = "vcs" if "+" in requirement.url.split(":", 1)[0] else "url"
        return _package(requirement.name, pinned=False, source=source, index=index)
    specifiers = list(requirement.specifier)
    pinned = (
        len(specifiers) == 1
        and specifiers[0].operator in {"==", "==="}
        and "*" not in specifiers[0].version
    )
    return _package(requirement.name, pinned=pinned, source="index", index=index)


def _package(name: str, *, pinned: bool, source: str, index: str) -> dict[str, Any]:
    return {
        "package": name,
        "package_pinned": pinned,
        "package_source": source,
        "package_index": index.rstrip("/"),
    }


def trust_facts(score: float) -> dict[str, Any]:
    """A trust score in [0, 1] as per-mille (Cedar compares integers only).

    Truncated, never rounded up: 0.6999 is below 0.7 and must not reach 700.
    (The inner ``round`` only absorbs binary noise such as 0.57 * 1000 = 569.999...)
    """
    if not 0.0 <= score <= 1.0:
        raise InputError(f"trust score {score} is outside [0, 1]")
    return {"trust_permille": math.floor(round(score * 1000, 6))}


def facts_for(kind: str, resource: str, *, workspace: Path) -> dict[str, Any]:
    """The facts an action's resource implies, by action kind (empty when it implies none)."""
    if kind in {"file.read", "file.write", "file.delete", "file.quarantine", "file.restore"}:
        return path_facts(resource, workspace=workspace)
    if kind == "shell.run":
        return command_facts(resource)
    if kind in {"net.connect", "api.call"}:
        host = resource.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
        if host.startswith("[") and "]" in host:  # [IPv6] or [IPv6]:port
            host = host[: host.index("]") + 1]
        elif host.count(":") == 1:  # host:port (an IPv6 address has several colons)
            host = host.split(":", 1)[0]
        return host_facts(host)
    if kind == "package.install":
        return package_facts(resource)
    return {}
