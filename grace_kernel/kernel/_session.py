"""The Grace IPython extension's state: the cell gate, the runtime guard, the records.

Two trust modes (DESIGN.md §1):

- **supervised** (``GRACE_SUPERVISOR=runner|server``, set by the papermill
  engine or the server extension that launched the kernel): the supervisor
  scanned, decided and will sign; the kernel checks again with the same
  policies as defence in depth, never signs, and reads the decision's
  obligations from the request's ``metadata.grace``.
- **in-kernel** (plain IPython, ``%load_ext grace_kernel``, or a Grace kernel
  nobody supervises): the kernel itself governs and signs each cell, and every
  record says ``"trust": "in-kernel"`` — weaker, and ``%grace status`` says so.

The gate is an AST transformer: IPython drops a transformer that raises
anything but ``InputRejected`` (it would fail open), so every failure of the
gate's own code becomes an ``InputRejected`` naming the problem (fail closed).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import os
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from IPython.core.error import InputRejected
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.config import Settings
from grace_kernel.errors import GraceEnvironmentError
from grace_kernel.governance import (
    Action,
    ActionKind,
    Decision,
    Effect,
    PolicyEngine,
    Principal,
    facts_for,
)
from grace_kernel.hunter import Finding, Scanner, summarize
from grace_kernel.kernel._guard import GuardBlock, GuardConfig, GuardHandle, Verdict, install_guard
from grace_kernel.runs._records import (
    CELL_EXECUTION,
    cell_action,
    cell_record,
    guard_blocked,
)
from grace_kernel.workspace import Workspace

__all__ = ["SUPERVISORS", "CellCheck", "KernelSession"]

SUPERVISORS = frozenset({"runner", "server"})


@dataclasses.dataclass(frozen=True, slots=True)
class CellCheck:
    """The gate's answer for one cell, kept for ``%grace explain``."""

    source: str
    decision: Decision
    findings: tuple[Finding, ...]
    code_sha256: str
    label: str
    error: str | None = None

    def message(self) -> str:
        d = self.decision
        ids = ", ".join(d.policy_ids) or "no policy permits it"
        if self.error:
            return f"Grace could not check this cell, so it is refused (fail closed): {self.error}"
        if d.effect is Effect.REQUIRE_APPROVAL:
            request = f" (request {d.approval_id})" if d.approval_id else ""
            return (
                f"this cell needs a person's approval{request} [{ids}]: "
                f"{'; '.join(d.reasons)}. Another person runs `grace approvals approve "
                f"{d.approval_id or 'ID'}` outside the kernel, then run the cell again. "
                "`%grace explain` shows the findings and fixes."
            )
        return (
            f"Grace refused this cell [{ids}]: {'; '.join(d.reasons) or d.effect.value}. "
            "`%grace explain` shows the rule, the finding and the fix."
        )


class KernelSession:
    """One kernel's Grace state; built by :func:`grace_kernel.kernel.load`."""

    def __init__(
        self,
        shell: InteractiveShell,
        settings: Settings,
        *,
        supervisor: str | None,
        person: str,
        kernel_id: str,
        notebook: str | None,
        sandbox: tuple[str, ...] | None = None,
        policy_overrides: Path | None = None,
    ) -> None:
        if supervisor is not None and supervisor not in SUPERVISORS:
            raise ValueError(f"unknown supervisor {supervisor!r}")
        if sandbox is not None and supervisor is None:
            raise GraceEnvironmentError(
                "a sandboxed kernel cannot reach the workspace's key, so it cannot sign its "
                "own records",
                hint="start it from JupyterLab with Grace (the server supervises it) "
                "or with `grace run`",
            )
        self.shell = shell
        self.settings = settings
        self.supervisor = supervisor
        self.kernel_id = kernel_id
        self.notebook = notebook
        # The OS layers this kernel runs in (the sandbox provisioner), None when not sandboxed.
        self.sandbox = sandbox
        self.principal = Principal.kernel(kernel_id, on_behalf_of=person)
        self.scanner = Scanner()
        self.engine = PolicyEngine(
            seeded_dir=settings.policy_dir or seeded_policy_dir(),
            override_dir=policy_overrides or settings.override_policy_dir,
        )
        # In-kernel trust: this process governs and signs (and says so).
        self.workspace = None if supervisor else Workspace.open(settings, create=False)
        self.guard: GuardHandle | None = None
        self.last: CellCheck | None = None
        self.last_blocked: CellCheck | None = None
        self.blocks: deque[GuardBlock] = deque(maxlen=200)
        self._cell_blocks: list[GuardBlock] = []
        self._raw: str | None = None
        self._running: tuple[CellCheck, float] | None = None
        self._counter = 0
        self._reply_since = 0.0

    # ------------------------------------------------------------------ identity

    @property
    def trust(self) -> str:
        return self.supervisor or "in-kernel"

    @property
    def root(self) -> Path:
        return self.settings.home.parent

    def location(self) -> str:
        return self.notebook or f"kernel:{self.kernel_id}"

    def trusted(self) -> contextlib.AbstractContextManager[None]:
        return self.guard.trusted() if self.guard is not None else contextlib.nullcontext()

    def request_metadata(self) -> Mapping[str, Any]:
        """``metadata.grace`` of the request being executed (only a supervisor's counts)."""
        if self.supervisor is None:
            return {}
        kernel = getattr(self.shell, "kernel", None)
        if kernel is None:
            return {}
        parent = kernel.get_parent() or {}
        meta = parent.get("metadata", {}).get("grace", {})
        return meta if isinstance(meta, Mapping) else {}

    def mode(self) -> str:
        if self.workspace is not None:
            return self.workspace.health_mode()
        return str(self.request_metadata().get("mode") or "normal")

    # ------------------------------------------------------------------ guard

    def install_guard(self) -> GuardHandle:
        """Arm the runtime guard with this session's policy (once per process)."""
        grace_dir = self.settings.home
        writable = (Path(tempfile.gettempdir()), *self.settings.guard_writable)
        self.guard = install_guard(
            GuardConfig(
                workspace=self.root,
                grace_dir=grace_dir,
                writable=tuple(writable),
                decide=self._guard_decide,
                scan_dynamic=self._scan_dynamic,
                on_block=self._on_block,
            )
        )
        return self.guard

    def _guard_decide(self, kind: str, resource: str) -> Verdict:
        action = Action(
            kind=ActionKind(kind),
            principal=self.principal,
            resource=resource,
            facts=facts_for(kind, resource, workspace=self.root),
        )
        decision = self.engine.decide(action, mode=self.mode())
        policy = decision.policy_ids[0] if decision.policy_ids else "default-deny"
        if decision.effect is Effect.REQUIRE_APPROVAL:
            reason = f"{kind} {resource} needs approval: " + "; ".join(decision.reasons)
        else:
            reason = "; ".join(decision.reasons) or f"{kind} {resource}: {decision.effect.value}"
        return Verdict(decision.allowed, policy, reason)

    def _scan_dynamic(self, source: str) -> Verdict:
        findings = self.scanner.scan_code(source, kind="file")
        action = Action(
            kind=ActionKind.CELL_EXECUTE,
            principal=self.principal,
            resource=f"{self.location()}:dynamic",
            findings=summarize(findings),
        )
        decision = self.engine.decide(action, mode=self.mode())
        if decision.allowed:
            return Verdict(True, ",".join(decision.policy_ids), "dynamic code passed")
        rules = ", ".join(sorted({f.rule_id for f in findings})) or "no rule"
        return Verdict(
            False,
            decision.policy_ids[0] if decision.policy_ids else "default-deny",
            f"code built at run time was refused ({rules}): " + "; ".join(decision.reasons),
        )

    def _on_block(self, block: GuardBlock) -> None:
        self.blocks.append(block)
        self._cell_blocks.append(block)

    # ------------------------------------------------------------------ the gate

    def capture_raw(self, lines: list[str]) -> list[str]:
        """First input transformer: remember the cell exactly as typed."""
        self._raw = "".join(lines)
        return lines

    def check(self, source: str) -> CellCheck:
        """Scan and decide one cell; in-kernel mode records the decision."""
        self._counter += 1
        meta = self.request_metadata()
        label = f"{self.location()}#in-{self._counter}"
        prepared = cell_action(
            source,
            principal=self.principal,
            scanner=self.scanner,
            location=self.location(),
            detail={"label": label, "trust": self.trust},
        )
        if self.workspace is not None:
            decision = self.workspace.governance.govern(prepared.action)
        else:
            decision = self.engine.decide(prepared.action, mode=self.mode())
            if (
                decision.effect is Effect.REQUIRE_APPROVAL
                and meta.get("effect") == "allow"
                and meta.get("approval_id")
            ):
                # The supervisor consumed a person's approval for exactly this code.
                decision = dataclasses.replace(
                    decision,
                    effect=Effect.ALLOW,
                    approval_id=str(meta["approval_id"]),
                    reasons=(*decision.reasons, f"approved (request {meta['approval_id']})"),
                )
        obligations = set(decision.obligations) | {str(o) for o in meta.get("obligations", [])}
        decision = dataclasses.replace(decision, obligations=frozenset(obligations))
        return CellCheck(
            source=source,
            decision=decision,
            findings=prepared.findings,
            code_sha256=prepared.code_sha256,
            label=label,
        )

    def gate(self, node: ast.AST) -> ast.AST:
        """The AST transformer's body: allow the cell, or raise ``InputRejected``."""
        raw, self._raw = self._raw, None
        try:
            source = raw if raw is not None else ast.unparse(node)
            with self.trusted():
                check = self.check(source)
                if self.guard is not None:
                    self.guard.set_obligations(check.decision.obligations)
        except InputRejected:
            raise
        except BaseException as exc:  # a Grace bug must refuse the cell, never skip the check
            failed = CellCheck(
                source=raw or "",
                decision=Decision(
                    decision_id="-",
                    effect=Effect.DENY,
                    action=Action(
                        kind=ActionKind.CELL_EXECUTE,
                        principal=self.principal,
                        resource=self.location(),
                    ),
                    policy_ids=("grace-fail-closed",),
                    reasons=("the cell could not be checked",),
                ),
                findings=(),
                code_sha256="",
                label="-",
                error=f"{type(exc).__name__}: {exc}",
            )
            self.last = self.last_blocked = failed
            raise InputRejected(failed.message()) from None
        self.last = check
        if not check.decision.allowed:
            self.last_blocked = check
            raise InputRejected(check.message())
        self._running = (check, time.time())
        self._cell_blocks = []
        return node

    # ------------------------------------------------------------------ after the cell

    def post_run_cell(self, result: ExecutionResult) -> None:
        """Record the cell (in-kernel trust) and report what the guard blocked."""
        running, self._running = self._running, None
        blocks, self._cell_blocks = self._cell_blocks, []
        if self.guard is not None:
            self.guard.drain_blocks()
        if running is None or self.workspace is None:
            return
        check, started = running
        status = "ok" if result.success else "error"
        subjects, predicate = cell_record(
            notebook=self.location(),
            cell_id=check.label,
            cell_index=self._counter,
            code_sha256=check.code_sha256,
            outputs=[],  # a kernel cannot see what its frontend displayed; the server can
            status=status,
            decision=check.decision,
            started=started,
            duration_ms=(time.time() - started) * 1000,
            kernel_id=self.kernel_id,
            trust="in-kernel",
            guard_blocks=[b.to_json() for b in blocks],
        )
        with self.trusted():
            entry = self.workspace.ledger.append(
                subjects=subjects, predicate_type=CELL_EXECUTION, predicate=predicate
            )
            for block in blocks:
                self.workspace.events.emit(
                    guard_blocked(
                        block.to_json(),
                        principal=self.principal.label,
                        cell=check.label,
                        record_index=entry.index,
                    )
                )

    def reply_metadata(self) -> dict[str, Any]:
        """What the execute_reply tells a supervisor: the decision and the guard's blocks."""
        last = self.last
        blocks = [b.to_json() for b in list(self.blocks)[-50:] if b.at >= self._reply_since]
        self._reply_since = time.time()
        return {
            "trust": self.trust,
            "decision_id": last.decision.decision_id if last else None,
            "guard_blocks": blocks,
        }

    def close(self) -> None:
        if self.workspace is not None:
            with self.trusted():
                self.workspace.close()
            self.workspace = None


def kernel_identity(environ: Mapping[str, str], shell: InteractiveShell) -> tuple[str, str | None]:
    """This kernel's id (from its connection file) and the notebook it serves, if known."""
    kernel = getattr(shell, "kernel", None)
    connection = ""
    if kernel is not None:
        with contextlib.suppress(Exception):
            from ipykernel.kernelapp import IPKernelApp

            if IPKernelApp.initialized():
                connection = IPKernelApp.instance().connection_file
    name = Path(connection).stem if connection else ""
    kernel_id = name.removeprefix("kernel-") if name else f"ipython-{os.getpid()}"
    notebook = environ.get("JPY_SESSION_NAME") or None
    if notebook:
        notebook = os.path.relpath(notebook) if Path(notebook).is_absolute() else notebook
    return kernel_id, notebook
