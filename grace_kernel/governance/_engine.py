"""The Cedar policy engine: one validated policy set in memory, three outcomes.

Cedar answers Allow or Deny.  Grace reads a third outcome from annotations:
when every permit that decided an Allow is annotated ``@grace("approval")``,
the action requires a human approval; once approved, the same request is
evaluated again with ``context.approved = true`` (forbids still win), so the
final allow is itself a Cedar decision.  Forbid beats everything; nothing
matching is a deny.

Policies are loaded from the seeded directory (``data/policies``) plus the
workspace's ``.grace/policies/*.cedar``.  Workspace files may add any forbid
(tighten) but a permit only for actions the seeded set marks
``@overridable("true")`` (loosen what Grace allows to be loosened).  Every
policy needs ``@id`` (unique) and ``@reason``; ``@obligations("a,b")`` lists
obligations a deciding permit imposes.

Hot reload is atomic: a changed file is re-read at most once a second, and a
broken edit keeps the last good set active and emits
:class:`~grace_kernel.events.PolicyReloadFailed`.  With no good set at all,
every decision is a deny naming the problem (fail closed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import cedarpy

from grace_kernel.errors import InputError
from grace_kernel.events import EventBus, PolicyReloadFailed
from grace_kernel.governance._actions import RESOURCE_TYPES, Action
from grace_kernel.governance._decision import Decision, Effect
from grace_kernel.governance._facts import DEFAULT_CONTEXT

__all__ = [
    "PolicyEngine",
    "PolicyInfo",
    "PolicyLoadError",
    "PolicyProblem",
    "PolicySet",
    "load_policy_set",
]

SCHEMA_FILE = "grace.cedarschema"
_POLICY_NUMBER = re.compile(r"\bpolicy(\d+)\b")


@dataclasses.dataclass(frozen=True)
class PolicyProblem:
    """A problem in a policy file, located as precisely as Cedar allows."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class PolicyLoadError(InputError):
    """The policy files do not load; ``problems`` lists each with its file and line."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the policies:\n"
            + "\n".join(f"  {p}" for p in problems),
            hint="run `grace policy lint` for the full list",
        )
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class PolicyInfo:
    id: str
    effect: str
    file: str
    line: int
    reason: str
    approval: bool
    obligations: frozenset[str]
    overridable: bool
    actions: frozenset[str] | None  # None: every action
    seeded: bool


@dataclasses.dataclass(frozen=True)
class PolicySet:
    """A parsed, validated, immutable policy set."""

    cedar: Any  # cedarpy.PolicySet
    schema: Any  # cedarpy.Schema
    policies: Mapping[str, PolicyInfo]
    fingerprint: str
    files: tuple[str, ...]


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _statements(text: str) -> list[tuple[int, int, int]]:
    """(first line, start, end) of each statement, in order: the text up to each top-level ``;``.

    Cedar reports neither lines nor offsets, so policies are located by
    splitting the source ourselves: ``//`` comments and whitespace before a
    statement are skipped, and ``;`` inside a string does not end one.  A
    trailing fragment without ``;`` counts as a (broken) statement.
    """
    found: list[tuple[int, int, int]] = []
    start: int | None = None
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = size if end < 0 else end
            continue
        if char.isspace():
            i += 1
            continue
        if start is None:
            start = i
        if char == '"':
            i += 1
            while i < size and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == ";":
            found.append((_line_of(text, start), start, i + 1))
            start = None
        i += 1
    if start is not None:
        found.append((_line_of(text, start), start, size))
    return found


def _syntax_error_line(text: str, statements: list[tuple[int, int, int]]) -> tuple[int, str]:
    """The first statement Cedar cannot parse on its own: its line and Cedar's message."""
    for line, start, end in statements:
        try:
            cedarpy.policies_to_json_str(text[start:end])
        except ValueError as exc:
            return line, str(exc)
    return 1, ""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyLoadError([PolicyProblem(str(path), 1, f"cannot read: {exc}")]) from None


def _action_scope(constraint: Mapping[str, Any]) -> frozenset[str] | None:
    op = constraint.get("op")
    if op == "All":
        return None
    if op == "==":
        return frozenset({constraint["entity"]["id"]})
    if op == "in":
        entities = constraint.get("entities") or [constraint.get("entity")]
        return frozenset(e["id"] for e in entities if e)
    return None


def _parse_file(
    path: Path, schema: Any, *, seeded: bool
) -> tuple[dict[str, Any], list[PolicyInfo], list[PolicyProblem]]:
    text = _read(path)
    problems: list[PolicyProblem] = []
    statements = _statements(text)
    try:
        doc = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        line, message = _syntax_error_line(text, statements)
        return {}, [], [PolicyProblem(str(path), line, f"Cedar syntax error: {message or exc}")]
    static = doc.get("staticPolicies", {})
    if doc.get("templates"):
        problems.append(PolicyProblem(str(path), 1, "policy templates are not supported"))
    ordered = sorted(static.items(), key=lambda kv: int(kv[0].removeprefix("policy")))
    line_by_number: dict[int, int] = {}
    policies: dict[str, Any] = {}
    infos: list[PolicyInfo] = []
    for number, (_, policy) in enumerate(ordered):
        annotations = policy.get("annotations", {})
        pid = annotations.get("id")
        line = statements[number][0] if number < len(statements) else 1
        line_by_number[number] = line
        if not pid:
            problems.append(PolicyProblem(str(path), line, f"policy #{number + 1} has no @id"))
            continue
        if not annotations.get("reason"):
            problems.append(PolicyProblem(str(path), line, f"policy {pid!r} has no @reason"))
        policies[pid] = policy
        obligations = annotations.get("obligations", "")
        infos.append(
            PolicyInfo(
                id=pid,
                effect=policy["effect"],
                file=str(path),
                line=line,
                reason=annotations.get("reason", ""),
                approval=annotations.get("grace") == "approval",
                obligations=frozenset(o.strip() for o in obligations.split(",") if o.strip()),
                overridable=annotations.get("overridable") == "true",
                actions=_action_scope(policy.get("action", {"op": "All"})),
                seeded=seeded,
            )
        )
    validation = cedarpy.validate_policies(text, schema)
    if not validation.validation_passed:
        for error in validation.errors:
            message = str(error)
            found = _POLICY_NUMBER.search(message)
            line = line_by_number.get(int(found.group(1)), 1) if found else 1
            problems.append(PolicyProblem(str(path), line, message))
    return policies, infos, problems


def load_policy_set(seeded_dir: Path, override_dir: Path | None = None) -> PolicySet:
    """Parse and validate every policy file; raises :class:`PolicyLoadError` listing problems."""
    schema_path = seeded_dir / SCHEMA_FILE
    try:
        schema = cedarpy.Schema.from_str(_read(schema_path))
    except ValueError as exc:
        raise PolicyLoadError([PolicyProblem(str(schema_path), 1, f"schema: {exc}")]) from None
    seeded_files = sorted(seeded_dir.glob("*.cedar"))
    if not seeded_files:
        raise PolicyLoadError([PolicyProblem(str(seeded_dir), 1, "no seeded policy files")])
    override_files = sorted(override_dir.glob("*.cedar")) if override_dir else []
    problems: list[PolicyProblem] = []
    combined: dict[str, Any] = {}
    infos: dict[str, PolicyInfo] = {}
    digest = hashlib.sha256()
    for path, seeded in [(p, True) for p in seeded_files] + [(p, False) for p in override_files]:
        # Parse first: it reports an unreadable file (e.g. a dangling editor lock link).
        policies, file_infos, file_problems = _parse_file(path, schema, seeded=seeded)
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        problems += file_problems
        for info in file_infos:
            if info.id in infos:
                first = infos[info.id]
                problems.append(
                    PolicyProblem(
                        info.file,
                        info.line,
                        f"@id {info.id!r} is already used at {first.file}:{first.line}",
                    )
                )
                continue
            infos[info.id] = info
            combined[info.id] = policies[info.id]
    overridable = {
        action
        for info in infos.values()
        if info.seeded and info.overridable and info.actions is not None
        for action in info.actions
    }
    for info in infos.values():
        if info.seeded or info.effect != "permit":
            continue
        if info.actions is None or not info.actions <= overridable:
            problems.append(
                PolicyProblem(
                    info.file,
                    info.line,
                    f"workspace permit {info.id!r} loosens "
                    f"{'every action' if info.actions is None else ', '.join(sorted(info.actions))}"
                    f"; workspaces may loosen only {', '.join(sorted(overridable)) or 'nothing'}",
                )
            )
    if problems:
        raise PolicyLoadError(problems)
    doc = {"staticPolicies": combined, "templates": {}, "templateLinks": []}
    try:
        cedar = cedarpy.PolicySet.from_json_str(json.dumps(doc))
    except ValueError as exc:
        raise PolicyLoadError([PolicyProblem(str(seeded_dir), 1, str(exc))]) from None
    files = tuple(str(p) for p in seeded_files + override_files)
    return PolicySet(cedar, schema, infos, digest.hexdigest()[:16], files)


def _snapshot(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        out.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(out)


class PolicyEngine:
    """Decides with the current policy set; reloads edited files atomically."""

    def __init__(
        self,
        *,
        seeded_dir: Path,
        override_dir: Path | None = None,
        events: EventBus | None = None,
        reload_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seeded_dir = seeded_dir
        self.override_dir = override_dir
        self._events = events
        self._interval = reload_interval
        self._monotonic = monotonic
        self._active: PolicySet | None = None
        self.last_error: str | None = None
        self._files_seen: tuple[tuple[str, int, int], ...] = ()
        self._next_check = 0.0
        self._reload(force=True)

    @property
    def active(self) -> PolicySet | None:
        return self._active

    def _watched(self) -> list[Path]:
        paths = [self.seeded_dir / SCHEMA_FILE, *sorted(self.seeded_dir.glob("*.cedar"))]
        if self.override_dir is not None and self.override_dir.is_dir():
            paths += sorted(self.override_dir.glob("*.cedar"))
        return paths

    def _reload(self, *, force: bool = False) -> None:
        watched = self._watched()
        seen = _snapshot(watched)
        if not force and seen == self._files_seen:
            return
        self._files_seen = seen
        try:
            loaded = load_policy_set(self.seeded_dir, self.override_dir)
        except InputError as exc:
            self.last_error = exc.message
            if self._events is not None:
                self._events.emit(
                    PolicyReloadFailed(
                        files=[str(p) for p in watched],
                        problem=exc.message,
                        active_fingerprint=self._active.fingerprint if self._active else None,
                    )
                )
            return
        self._active = loaded
        self.last_error = None

    def maybe_reload(self) -> None:
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + self._interval
            self._reload()

    def context(self, action: Action, *, mode: str, approved: bool) -> dict[str, Any]:
        context = dict(DEFAULT_CONTEXT)
        context.update(action.facts)
        context["findings"] = action.findings.to_context()
        context["sandbox_level"] = action.sandbox_level
        context["mode"] = mode
        context["approved"] = approved
        return context

    def decide(self, action: Action, *, mode: str = "normal", approved: bool = False) -> Decision:
        """Cedar's answer for ``action``, read into allow / deny / require_approval."""
        return dataclasses.replace(self._decide(action, mode=mode, approved=approved), mode=mode)

    def _decide(self, action: Action, *, mode: str, approved: bool) -> Decision:
        self.maybe_reload()
        decision_id = uuid.uuid4().hex
        active = self._active
        if active is None:
            return Decision(
                decision_id=decision_id,
                effect=Effect.DENY,
                action=action,
                policy_ids=(),
                reasons=("policies are unavailable, so everything is refused (fail closed)",),
                errors=(self.last_error or "no policy set loaded",),
            )
        # Entities in JSON form: Cedar's string form rejects ids it would escape (a
        # newline in a command or path), which would deny such an action by accident.
        request = {
            "principal": {"type": action.principal.type.value, "id": action.principal.id},
            "action": {"type": "Action", "id": action.kind.value},
            "resource": {"type": RESOURCE_TYPES[action.kind], "id": action.resource},
            "context": self.context(action, mode=mode, approved=approved),
        }
        try:
            result = cedarpy.is_authorized(request, active.cedar, [])
        except Exception as exc:  # cedarpy raises plain exceptions; fail closed on any of them
            return self._failed(decision_id, action, active, f"policy evaluation failed: {exc}")
        errors = tuple(str(e) for e in result.diagnostics.errors)
        if errors or result.decision == cedarpy.Decision.NoDecision:
            return self._failed(decision_id, action, active, "; ".join(errors) or "no decision")
        ids = tuple(sorted(result.diagnostics.reasons))
        infos = [active.policies[i] for i in ids if i in active.policies]
        reasons = tuple(i.reason for i in infos)
        if result.decision == cedarpy.Decision.Deny:
            return Decision(
                decision_id=decision_id,
                effect=Effect.DENY,
                action=action,
                policy_ids=ids,
                reasons=reasons or ("no policy permits this action",),
                policy_fingerprint=active.fingerprint,
            )
        only_approval = all(i.approval for i in infos)
        if not only_approval:
            # Allowed outright: the permits that allowed it decided, not the
            # catch-all approval permits that also matched.
            infos = [i for i in infos if not i.approval]
            ids = tuple(i.id for i in infos)
            reasons = tuple(i.reason for i in infos)
        obligations = frozenset(o for i in infos for o in i.obligations)
        effect = Effect.ALLOW
        if only_approval and not approved:
            effect = Effect.REQUIRE_APPROVAL
        return Decision(
            decision_id=decision_id,
            effect=effect,
            action=action,
            policy_ids=ids,
            reasons=reasons + (("approved by a person",) if only_approval and approved else ()),
            obligations=obligations,
            policy_fingerprint=active.fingerprint,
        )

    def _failed(self, decision_id: str, action: Action, active: PolicySet, error: str) -> Decision:
        return Decision(
            decision_id=decision_id,
            effect=Effect.DENY,
            action=action,
            policy_ids=(),
            reasons=("the policy engine could not decide, so the action is refused (fail closed)",),
            errors=(error,),
            policy_fingerprint=active.fingerprint,
        )
