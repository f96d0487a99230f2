"""A sandboxed run on the governed path: scan, decide, isolate, record, copy back.

:func:`run_governed` is what ``grace sandbox run`` and ``%%grace sandbox`` do::

    Hunter scan of the code -> governance decision `sandbox.run` (with the
    isolation level this run will get) [-> `net.connect` per allowed host]
    -> the run, in every layer -> Hunter scan of each file it wrote
    -> governance `file.write` per file copied into the workspace
    -> one signed `sandbox-run` ledger record with all of the above

Nothing the sandbox wrote reaches the workspace without a scan and a
decision; a file with a high or critical finding is held back (reported, not
copied).  The record holds digests, never the code or the output itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from grace_kernel.errors import InputError, PolicyError
from grace_kernel.governance import (
    Action,
    ActionKind,
    Effect,
    Principal,
    Severity,
    host_facts,
    path_facts,
)
from grace_kernel.hunter import Scanner, summarize
from grace_kernel.ledger import Subject, predicate_type_urn
from grace_kernel.sandbox._langs import language
from grace_kernel.sandbox._probe import IsolationReport, probe
from grace_kernel.sandbox._run import (
    Limits,
    NetMode,
    SandboxResult,
    SandboxSpec,
    WrittenFile,
    level_of,
    planned_layers,
    run,
)
from grace_kernel.workspace import Workspace

__all__ = [
    "SANDBOX_RUN",
    "CopyOutcome",
    "GovernedRun",
    "SandboxRequest",
    "run_governed",
    "workspace_inputs",
]

SANDBOX_RUN = predicate_type_urn("sandbox-run")
_HOLD_AT = Severity.HIGH


@dataclasses.dataclass(frozen=True, kw_only=True)
class SandboxRequest:
    """One sandboxed run as a user asks for it."""

    code: str
    lang: str = "python"
    source: str = "inline"  # a file name, or "inline" / "cell"
    limits: Limits = dataclasses.field(default_factory=Limits)
    net: NetMode = "none"
    allow: tuple[str, ...] = ()  # host[:port] for --net allow-list
    write_dir: Path | None = None  # where, in the workspace, written files go
    python: str | None = None
    level: int | None = None
    no_fork: bool = False
    stdin: bytes | None = None


@dataclasses.dataclass(frozen=True)
class CopyOutcome:
    path: str  # in the private directory
    sha256: str
    size: int
    copied_to: str | None  # workspace-relative destination, when copied
    held: str | None  # why it was not copied

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class GovernedRun:
    result: SandboxResult
    decision_id: str
    record_index: int
    files: tuple[CopyOutcome, ...]
    findings: int  # Hunter findings in the code

    def to_json(self) -> dict[str, Any]:
        doc = self.result.to_json()
        doc["files"] = [f.to_json() for f in self.files]
        doc.update(
            decision_id=self.decision_id, ledger_index=self.record_index, findings=self.findings
        )
        return doc


def _split_host(entry: str) -> tuple[str, int]:
    host, sep, port = entry.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"--allow {entry!r}: give HOST:PORT (Landlock allows by port)")
    return host, int(port)


def workspace_inputs(root: Path) -> tuple[Path, ...]:
    """Everything at the top of the workspace except Grace's own directory."""
    try:
        return tuple(sorted(p for p in root.iterdir() if p.name != ".grace"))
    except OSError as exc:
        raise InputError(f"cannot list the workspace {root}: {exc.strerror}") from None


class _CopyBack:
    """Scan each file the run wrote and copy it into ``write_dir`` when policy allows."""

    def __init__(self, ws: Workspace, principal: Principal, write_dir: Path | None) -> None:
        self.ws, self.principal, self.write_dir = ws, principal, write_dir
        self.scanner = Scanner()
        self.outcomes: list[CopyOutcome] = []

    def __call__(self, private: Path, files: tuple[WrittenFile, ...]) -> None:
        for written in files:
            self.outcomes.append(self._one(private, written))

    def _one(self, private: Path, written: WrittenFile) -> CopyOutcome:
        def held(reason: str) -> CopyOutcome:
            return CopyOutcome(written.path, written.sha256, written.size, None, reason)

        if self.write_dir is None:
            return held("not copied: no --write directory was given")
        fd = os.open(private / written.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        if hashlib.sha256(data).hexdigest() != written.sha256:
            return held("changed after the run ended")
        findings = self.scanner.scan_bytes(
            data, name=written.path, suffix=Path(written.path).suffix
        ).findings
        summary = summarize(findings)
        if summary.max_severity >= _HOLD_AT:
            rules = ", ".join(sorted(summary.rule_ids))
            return held(f"held back: Hunter found {summary.max_severity.name.lower()} ({rules})")
        dest = self.write_dir / written.path
        facts = path_facts(dest, workspace=self.ws.root)
        action = Action(
            kind=ActionKind.FILE_WRITE,
            principal=self.principal,
            resource=facts["path"],
            facts=facts,
            findings=summary,
            detail={"sha256": written.sha256, "from": "sandbox"},
        )
        if not facts["inside_workspace"] or facts["in_grace_dir"]:
            return held(f"{facts['path']} is not a workspace file Grace may write")
        decision = self.ws.governance.govern(action)
        if decision.effect is not Effect.ALLOW:
            return held(f"refused by policy: {', '.join(decision.reasons)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
            tmp.write(data)
        Path(tmp.name).chmod(0o644)
        Path(tmp.name).replace(dest)
        return CopyOutcome(written.path, written.sha256, written.size, facts["path"], None)


def _check_hosts(ws: Workspace, principal: Principal, allow: tuple[str, ...]) -> tuple[int, ...]:
    ports = []
    for entry in allow:
        host, port = _split_host(entry)
        facts = host_facts(host)
        decision = ws.governance.govern(
            Action(kind=ActionKind.NET_CONNECT, principal=principal, resource=host, facts=facts)
        )
        if decision.effect is not Effect.ALLOW:
            why = ", ".join(decision.reasons)
            raise PolicyError(
                f"--allow {entry}: {decision.effect.value} by policy ({why})",
                hint="ask for approval (grace approvals), or drop the host",
            )
        ports.append(port)
    return tuple(sorted(set(ports)))


def run_governed(
    ws: Workspace,
    request: SandboxRequest,
    *,
    principal: Principal,
    report: IsolationReport | None = None,
) -> GovernedRun:
    """Scan, decide, run sandboxed, copy back and record one request."""
    report = report or probe()
    lang = language(request.lang, python=request.python)
    if request.net == "allow-list" and not request.allow:
        raise InputError("--net allow-list needs at least one --allow HOST:PORT")
    if request.allow and request.net != "allow-list":
        raise InputError("--allow only applies with --net allow-list")
    code = request.code.encode()
    digest = hashlib.sha256(code).hexdigest()
    findings = Scanner().scan_bytes(code, name=request.source, suffix=lang.suffix).findings
    ports = _check_hosts(ws, principal, request.allow)
    script = f"main{lang.suffix}"
    inputs = workspace_inputs(ws.root)
    spec = SandboxSpec(
        argv=lang.argv(script),
        limits=request.limits,
        net=request.net,
        connect_ports=ports,
        files={script: code},
        links={p.name: p for p in inputs},
        inputs=inputs,
        hidden=(ws.settings.home,),
        execute=lang.execute,
        bind=lang.bind,
        stdin=request.stdin,
        no_fork=request.no_fork,
        level=request.level,
    )
    level = level_of(planned_layers(spec, report))
    action = Action(
        kind=ActionKind.SANDBOX_RUN,
        principal=principal,
        resource=f"{lang.name}:{digest[:16]}",
        findings=summarize(findings),
        sandbox_level=level,
        detail={"code_sha256": digest, "source": request.source, "net": request.net},
    )
    copier = _CopyBack(ws, principal, request.write_dir)
    with ws.governance.governed(action) as decision:
        result = run(spec, report, collect=copier)
    entry = ws.ledger.append(
        subjects=[Subject(name=f"sandbox:{request.source}", sha256=digest)],
        predicate_type=SANDBOX_RUN,
        predicate={
            "principal": principal.label,
            "decision_id": decision.decision_id,
            "decision_index": decision.ledger_index,
            "lang": lang.name,
            "program": str(lang.program),
            "level": result.level,
            "layers": list(result.layers),
            "missing_layers": list(result.missing),
            "user": report.user,
            "limits": request.limits.to_json(),
            "net": request.net,
            "allow": list(request.allow),
            "exit_code": result.exit_code,
            "signal": result.signal,
            "timed_out": result.timed_out,
            "stopped_by": list(result.stopped_by),
            "usage": dict(result.usage),
            "stdout_sha256": hashlib.sha256(result.stdout.encode()).hexdigest(),
            "stderr_sha256": hashlib.sha256(result.stderr.encode()).hexdigest(),
            "files": [f.to_json() for f in copier.outcomes],
        },
    )
    return GovernedRun(
        result=result,
        decision_id=decision.decision_id,
        record_index=entry.index,
        files=tuple(copier.outcomes),
        findings=len(findings),
    )
