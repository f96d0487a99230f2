"""The papermill engine ``grace``: every cell scanned, decided, executed and signed.

This runs on the trusted side (the ``papermill`` or ``grace run`` process); it
holds the workspace and its signing key.  The kernel it launches is the Grace
kernel in *supervised* mode: it keeps its own checks and runtime guard as
defence in depth, receives the decision's obligations in each request's
metadata, and never signs anything.

Per cell (``GraceNotebookClient.async_execute_cell``):

1. scan the code with Hunter and govern a ``cell.execute`` action (the
   decision is a signed record before anything runs);
2. deny → the cell gets an error output saying why, the run stops;
   approval required → the same, naming the request to approve;
3. allow → send the ``execute_request`` with ``metadata.grace`` (decision id,
   obligations, mode);
4. afterwards, sign a ``cell-execution`` record over the code and the
   normalized outputs, whatever the cell's outcome.

At the end one ``notebook-run`` record links the input digest, the parameters
and every cell record; its index goes into the output notebook's metadata.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellExecutionError, DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NotebookExecutionManager

from grace_kernel.errors import GraceEnvironmentError, InputError
from grace_kernel.governance import Decision, Effect, Principal
from grace_kernel.hunter import Scanner
from grace_kernel.ledger import Entry
from grace_kernel.runs._papermill import GRACE_KERNEL_NAME
from grace_kernel.runs._records import (
    CELL_EXECUTION,
    NOTEBOOK_RUN,
    cell_action,
    cell_record,
    guard_blocked,
    notebook_content_digest,
    run_record,
    source_text,
)
from grace_kernel.workspace import Workspace

__all__ = [
    "GRACE_KERNEL_NAME",
    "CellOutcome",
    "GraceNotebookClient",
    "RunContext",
    "new_run_id",
    "require_grace_kernel",
]

PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
_PARAMETER_TAGS = ("injected-parameters", "parameters")


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


@dataclasses.dataclass(frozen=True, slots=True)
class CellOutcome:
    """What happened to one cell, for progress reports and the summary."""

    index: int
    cell_id: str
    status: str  # ok | error | denied | held | timeout | kernel-died
    record_index: int
    duration_ms: float
    decision: Decision


class RunContext:
    """One governed notebook run: its identity, its records, and where it stopped.

    The caller owns ``workspace`` (and closes it).  ``on_cell`` is told about
    each finished cell (``grace run`` draws its progress bar from it).
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        run_id: str,
        person: str,
        input_path: Path | None,
        parameters: Mapping[str, Any],
        scanner: Scanner | None = None,
        on_cell: Callable[[CellOutcome], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.run_id = run_id
        self.principal = Principal.runner(run_id, on_behalf_of=person)
        self.input_path = input_path
        self.parameters = dict(parameters)
        self.scanner = scanner or Scanner()
        self.on_cell = on_cell
        self.outcomes: list[CellOutcome] = []
        self.stopped_at: dict[str, Any] | None = None
        self.started = time.time()
        self._tainted: set[str] = set()
        self.label = self._label(input_path)
        # The next cell is scanned while the kernel runs this one (scanning is pure).
        self._prefetcher = concurrent.futures.ThreadPoolExecutor(1, "grace-prefetch")
        self._prefetched: dict[tuple[str, frozenset[str]], concurrent.futures.Future[Any]] = {}
        self.input_sha256 = _file_digest(input_path) if input_path else ""
        self.run_entry: Entry | None = None

    def _label(self, path: Path | None) -> str:
        if path is None:
            return "<notebook>"
        resolved = path.resolve()
        root = self.workspace.root.resolve()
        return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(path)

    # ------------------------------------------------------------------ per cell

    def prefetch(self, cell: Mapping[str, Any]) -> None:
        """Start scanning ``cell`` in the background (with the taint known now)."""
        source = source_text(cell.get("source", ""))
        if cell.get("cell_type") != "code" or not source.strip():
            return
        key = (source, frozenset(self._tainted))
        if key not in self._prefetched:
            self._prefetched[key] = self._prefetcher.submit(
                self.scanner.scan_code, source, kind="cell", tainted=key[1]
            )

    def _findings(self, source: str) -> list[Any] | None:
        future = self._prefetched.pop((source, frozenset(self._tainted)), None)
        self._prefetched.clear()  # anything else was scanned for a cell that never came
        if future is None:
            return None
        result: list[Any] = future.result()
        return result

    def close(self) -> None:
        self._prefetcher.shutdown(wait=True, cancel_futures=True)

    def admit(self, cell: Mapping[str, Any], index: int) -> tuple[Decision, str, str]:
        """Govern running ``cell``: the decision, its role and its code digest."""
        tags = list(cell.get("metadata", {}).get("tags", []))
        role = "parameters" if "injected-parameters" in tags else "code"
        source = source_text(cell.get("source", ""))
        cell_id = _cell_id(cell, index)
        prepared = cell_action(
            source,
            principal=self.principal,
            scanner=self.scanner,
            location=f"{self.label}#{cell_id}",
            detail={"notebook": self.label, "cell_id": cell_id, "cell_index": index, "role": role},
            tainted=self._tainted,
            findings=self._findings(source),
        )
        if any(t in tags for t in _PARAMETER_TAGS):
            # Later cells see parameters as attacker-controlled input (taint).
            self._tainted.update(_assigned_names(source))
        return self.workspace.governance.govern(prepared.action), role, prepared.code_sha256

    def record(
        self,
        cell: Mapping[str, Any],
        index: int,
        *,
        decision: Decision,
        role: str,
        code_sha256: str,
        status: str,
        started: float,
        kernel_id: str | None,
        guard_blocks: Sequence[Mapping[str, Any]],
    ) -> CellOutcome:
        duration_ms = (time.time() - started) * 1000
        subjects, predicate = cell_record(
            notebook=self.label,
            cell_id=_cell_id(cell, index),
            cell_index=index,
            code_sha256=code_sha256,
            outputs=list(cell.get("outputs", [])),
            status=status,
            decision=decision,
            started=started,
            duration_ms=duration_ms,
            kernel_id=kernel_id,
            trust="runner",
            role=role,
            run_id=self.run_id,
            guard_blocks=guard_blocks,
            parameters=self.parameters if role == "parameters" else None,
        )
        entry = self.workspace.ledger.append(
            subjects=subjects, predicate_type=CELL_EXECUTION, predicate=predicate
        )
        outcome = CellOutcome(
            index, _cell_id(cell, index), status, entry.index, duration_ms, decision
        )
        self.outcomes.append(outcome)
        for block in guard_blocks:  # the kernel's report: shown as alerts, kept in the record
            self.workspace.events.emit(
                guard_blocked(
                    block,
                    principal=self.principal.label,
                    cell=f"{self.label}#{outcome.cell_id}",
                    record_index=entry.index,
                )
            )
        if self.on_cell is not None:
            self.on_cell(outcome)
        return outcome

    def stop(
        self,
        status: str,
        cell: Mapping[str, Any],
        index: int,
        decision: Decision | None = None,
    ) -> None:
        """Where and why the run stopped (denied, held, timeout, kernel-died)."""
        self.stopped_at = {
            "status": status,
            "cell_index": index,
            "cell_id": _cell_id(cell, index),
            "approval_id": decision.approval_id if decision else None,
            "policy_ids": list(decision.policy_ids) if decision else [],
        }

    # ------------------------------------------------------------------ the run

    @property
    def status(self) -> str:
        if self.stopped_at is not None:
            return str(self.stopped_at["status"])
        if any(o.status != "ok" for o in self.outcomes):
            return "error"
        return "ok"

    def finish(
        self, nb: nbformat.NotebookNode, *, output_path: str | None, kernel_name: str
    ) -> Entry:
        """Sign the ``notebook-run`` record and point the notebook's metadata at it."""
        self.close()
        cells = [
            c for c in nb.cells if PAPERMILL_ERROR_TAG not in c.get("metadata", {}).get("tags", [])
        ]
        subjects, predicate = run_record(
            run_id=self.run_id,
            input_path=self.label,
            input_sha256=self.input_sha256,
            output_path=output_path,
            output_content_sha256=notebook_content_digest(cells),
            parameters=self.parameters,
            cell_indices=[o.record_index for o in self.outcomes],
            status=self.status,
            principal=self.principal.label,
            kernel_name=kernel_name,
            started=self.started,
            duration_ms=(time.time() - self.started) * 1000,
            stopped_at=self.stopped_at,
        )
        entry = self.workspace.ledger.append(
            subjects=subjects, predicate_type=NOTEBOOK_RUN, predicate=predicate
        )
        nb.metadata["grace"] = {
            "run_id": self.run_id,
            "run_record": entry.index,
            "origin": self.workspace.ledger.origin,
            "input": str(self.input_path) if self.input_path else None,
            "parameters": self.parameters,
            "status": self.status,
            "stopped_at": self.stopped_at,
        }
        self.run_entry = entry
        return entry


def _cell_id(cell: Mapping[str, Any], index: int) -> str:
    ident = cell.get("id")
    return str(ident) if ident else f"#{index}"


def _assigned_names(source: str) -> set[str]:
    names = set()
    for line in source.splitlines():
        head, sep, _ = line.partition("=")
        if sep and head.strip().isidentifier():
            names.add(head.strip())
    return names


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _blocked_output(decision: Decision, run_id: str) -> tuple[dict[str, Any], str, str]:
    """The error output a refused cell shows: reason, policies, and what to do."""
    if decision.effect is Effect.REQUIRE_APPROVAL:
        ename = "GraceApprovalRequired"
        evalue = (
            f"this cell needs a person's approval (request {decision.approval_id}); "
            f"another person runs `grace approvals approve {decision.approval_id}`, "
            f"then `grace run --resume` continues run {run_id}"
        )
    else:
        ename = "GracePolicyDenied"
        evalue = "Grace's policy refuses to run this cell"
    lines = [f"{ename}: {evalue}", *decision.explain().splitlines()]
    lines.append("see why: `grace policy explain` or `%grace explain` in a Grace kernel")
    output = nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=lines)
    return output, ename, evalue


class GraceNotebookClient(PapermillNotebookClient):  # type: ignore[misc]  # untyped base
    """papermill's notebook client with each cell passed through the governed path."""

    def __init__(self, nb_man: NotebookExecutionManager, *, run: RunContext, **kw: Any) -> None:
        super().__init__(nb_man, **kw)
        self.grace = run
        self._request_metadata: dict[str, Any] = {}
        self._last_reply: dict[str, Any] | None = None
        self.on_cell_executed = self._remember_reply

    def _remember_reply(self, **kwargs: Any) -> None:
        self._last_reply = kwargs.get("execute_reply")

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        env = dict(kwargs.pop("env", None) or os.environ)
        env.update(
            GRACE_SUPERVISOR="runner",
            GRACE_RUN_ID=self.grace.run_id,
            GRACE_HOME=str(self.grace.workspace.settings.home),
        )
        await super().async_start_new_kernel(env=env, **kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self) -> Any:
        client = await super().async_start_new_kernel_client()
        session, shell = client.session, client.shell_channel
        owner = self

        def execute(
            code: str,
            silent: bool = False,
            store_history: bool = True,
            user_expressions: dict[str, Any] | None = None,
            allow_stdin: bool | None = None,
            stop_on_error: bool = True,
        ) -> str:
            # jupyter_client's execute() cannot attach request metadata; this is
            # the same message with the decision's obligations in metadata.grace.
            content = {
                "code": code,
                "silent": silent,
                "store_history": store_history,
                "user_expressions": user_expressions or {},
                "allow_stdin": client.allow_stdin if allow_stdin is None else allow_stdin,
                "stop_on_error": stop_on_error,
            }
            msg = session.msg(
                "execute_request", content, metadata={"grace": owner._request_metadata}
            )
            shell.send(msg)
            return str(msg["header"]["msg_id"])

        client.execute = execute
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def async_execute_cell(
        self,
        cell: nbformat.NotebookNode,
        cell_index: int,
        execution_count: int | None = None,
        store_history: bool = True,
    ) -> nbformat.NotebookNode:
        if cell.cell_type != "code" or not source_text(cell.source).strip():
            skipped: nbformat.NotebookNode = await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
            return skipped
        run = self.grace
        started = time.time()
        decision, role, code_sha = run.admit(cell, cell_index)
        kernel_id = getattr(self.km, "kernel_id", None)

        def record(status: str, blocks: Sequence[Mapping[str, Any]]) -> None:
            run.record(
                cell,
                cell_index,
                decision=decision,
                role=role,
                code_sha256=code_sha,
                status=status,
                started=started,
                kernel_id=kernel_id,
                guard_blocks=blocks,
            )

        if not decision.allowed:
            output, ename, evalue = _blocked_output(decision, run.run_id)
            cell.outputs = [output]
            status = "held" if decision.effect is Effect.REQUIRE_APPROVAL else "denied"
            run.stop(status, cell, cell_index, decision)
            record(status, [])
            raise CellExecutionError("\n".join(output["traceback"]), ename, evalue)
        self._request_metadata = {
            "decision_id": decision.decision_id,
            "decision_index": decision.ledger_index,
            "effect": decision.effect.value,
            "obligations": sorted(decision.obligations),
            "approval_id": decision.approval_id,
            "run_id": run.run_id,
            "mode": decision.mode,
        }
        self._last_reply = None
        if cell_index + 1 < len(self.nb.cells):
            run.prefetch(self.nb.cells[cell_index + 1])
        status = "error"
        try:
            result: nbformat.NotebookNode = await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
            status = "ok"
            return result
        except CellExecutionError:
            raise
        except (TimeoutError, DeadKernelError) as exc:
            status = "timeout" if isinstance(exc, TimeoutError) else "kernel-died"
            run.stop(status, cell, cell_index)
            raise
        finally:
            record(status, _guard_blocks(self._last_reply))

    # nbclient binds execute_cell to the base class's coroutine; rebind it to ours.
    execute_cell = run_sync(async_execute_cell)


def _guard_blocks(reply: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The runtime guard's blocks, as the kernel reported them in the execute_reply."""
    grace = (reply or {}).get("metadata", {}).get("grace", {})
    blocks = grace.get("guard_blocks", []) if isinstance(grace, Mapping) else []
    return [b for b in blocks if isinstance(b, Mapping)][:100] if isinstance(blocks, list) else []


def require_grace_kernel() -> None:
    """Fail with the fix when the "Python 3 (Grace)" kernelspec is not installed."""
    try:
        KernelSpecManager().get_kernel_spec(GRACE_KERNEL_NAME)
    except NoSuchKernel:
        raise GraceEnvironmentError(
            f"the {GRACE_KERNEL_NAME!r} kernel is not installed",
            hint="run `grace install` (or reinstall Grace with pip)",
        ) from None
