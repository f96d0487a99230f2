"""``grace run`` and ``grace verify --notebook``: the friendly ends of the engine.

A run that stops at a cell needing approval can be resumed: the kernel's state
is gone by then, so ``--resume`` re-runs the same input with the same
parameters under the *same run id* — the approval was granted for that run's
principal and that cell's exact code, so the held cell now passes, and every
other cell is decided and recorded again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from grace_kernel.errors import GraceEnvironmentError, GraceError, InputError
from grace_kernel.ledger import verify_bundle
from grace_kernel.ledger._bundle import ENTRIES
from grace_kernel.runs._engine import CellOutcome, RunContext, new_run_id
from grace_kernel.runs._provenance import NotebookReport, read_notebook, verify_cells
from grace_kernel.workspace import Workspace, current_user

__all__ = ["RunSummary", "default_output", "run_notebook", "verify_notebook"]


@dataclasses.dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    input: str
    output: str
    status: str  # ok | error | denied | held | timeout | kernel-died
    cells: tuple[CellOutcome, ...]
    run_record: int | None
    stopped_at: Mapping[str, Any] | None
    error: str | None
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.status == "ok",
            "run_id": self.run_id,
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "run_record": self.run_record,
            "stopped_at": dict(self.stopped_at) if self.stopped_at else None,
            "error": self.error,
            "duration_s": round(self.duration_s, 3),
            "cells": [
                {
                    "index": c.index,
                    "cell_id": c.cell_id,
                    "status": c.status,
                    "record_index": c.record_index,
                    "duration_ms": round(c.duration_ms, 3),
                    "decision": c.decision.effect.value,
                    "policy_ids": list(c.decision.policy_ids),
                }
                for c in self.cells
            ],
        }

    def text(self) -> str:
        counts: dict[str, int] = {}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        done = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no cells ran"
        lines = [f"run {self.run_id}: {self.status} ({done}) in {self.duration_s:.1f} s"]
        lines.append(f"output: {self.output}  (run record {self.run_record})")
        stop = self.stopped_at or {}
        where = f"cell {stop.get('cell_index')} (id {stop.get('cell_id')})"
        if self.status == "held":
            approval = stop.get("approval_id")
            lines.append(f"stopped at {where}: it needs approval (request {approval})")
            lines.append(
                f"  another person runs: grace approvals approve {approval}\n"
                f"  then:                grace run --resume {self.output}"
            )
        elif self.status == "denied":
            lines.append(
                f"stopped at {where}: refused by "
                f"{', '.join(stop.get('policy_ids') or ['policy'])}; the reason is in the "
                "cell's output"
            )
        elif self.status in {"timeout", "kernel-died"}:
            lines.append(f"stopped at {where}: {self.error}")
        elif self.error:
            lines.append(f"stopped: {self.error}")
        lines.append(f"verify it: grace verify --notebook {self.output}")
        return "\n".join(lines)


def default_output(input_path: Path) -> Path:
    """``analysis.ipynb`` → ``analysis.out.ipynb`` next to it."""
    return input_path.with_name(f"{input_path.stem}.out.ipynb")


def resume_plan(output: Path) -> tuple[Path, str, dict[str, Any]]:
    """Input path, run id and parameters of the run that wrote ``output``."""
    nb = read_notebook(output)
    meta = nb.get("metadata", {}).get("grace")
    if not isinstance(meta, Mapping) or not meta.get("run_id") or not meta.get("input"):
        raise InputError(
            f"{output} was not written by a Grace run (no metadata.grace.run_id)",
            hint="resume takes the output notebook of a `grace run` that stopped",
        )
    if meta.get("status") == "ok":
        raise InputError(f"run {meta['run_id']} already finished; nothing to resume")
    return Path(str(meta["input"])), str(meta["run_id"]), dict(meta.get("parameters") or {})


def run_notebook(
    workspace: Workspace,
    input_path: Path,
    output_path: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    start_timeout: float = 60.0,
    on_cell: Callable[[CellOutcome], None] | None = None,
) -> RunSummary:
    """Run ``input_path`` through the grace engine and write ``output_path``."""
    import time

    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillException, PapermillExecutionError

    read_notebook(input_path)  # a clear error for a missing or malformed notebook, up front
    if cwd is not None and not cwd.is_dir():
        raise InputError(f"--cwd {cwd}: no such directory")
    if output_path.resolve() == input_path.resolve():
        raise InputError("the output notebook must not overwrite the input")
    started = time.monotonic()
    context = RunContext(
        workspace,
        run_id=run_id or new_run_id(),
        person=current_user(),
        input_path=input_path,
        parameters=dict(parameters or {}),
        on_cell=on_cell,
    )
    error: str | None = None
    try:
        papermill.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=dict(parameters or {}),
            engine_name="grace",
            progress_bar=False,
            cwd=str(cwd) if cwd else None,
            execution_timeout=timeout,
            start_timeout=start_timeout,
            grace_run=context,
        )
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    except (CellTimeoutError, DeadKernelError) as exc:  # recorded; the notebook was saved
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    except TimeoutError as exc:  # the kernel never answered (a cell's timeout is caught above)
        raise GraceEnvironmentError(
            f"the Grace kernel did not start or answer: {exc}",
            hint="check `jupyter kernelspec list` for grace-python3, or raise --timeout",
        ) from None
    except GraceError:
        raise
    except PapermillException as exc:
        raise InputError(f"papermill refused the run: {exc}") from None
    return RunSummary(
        run_id=context.run_id,
        input=str(input_path),
        output=str(output_path),
        status=context.status,
        cells=tuple(context.outcomes),
        run_record=context.run_entry.index if context.run_entry else None,
        stopped_at=context.stopped_at,
        error=error,
        duration_s=time.monotonic() - started,
    )


def _bundle_envelopes(bundle: Path) -> Iterator[tuple[int, bytes]]:
    with (bundle / ENTRIES).open("rb") as handle:
        for index, line in enumerate(handle):
            yield index, line.rstrip(b"\n")


def verify_notebook(
    path: Path,
    *,
    workspace: Workspace | None = None,
    bundle: Path | None = None,
    trusted_keyids: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    by: str | None = None,
    via: str = "python",
) -> NotebookReport:
    """Verify the ledger (workspace or bundle), then each code cell of ``path`` against it.

    A workspace's verification joins its history (``by`` and ``via`` as in
    :meth:`Workspace.verify`)."""
    if (workspace is None) == (bundle is None):
        raise InputError("verify a notebook against a workspace or a bundle, not both")
    nb = read_notebook(path)
    if bundle is not None:
        report = verify_bundle(bundle, trusted_keyids=trusted_keyids, progress=progress)
        envelopes: Iterator[tuple[int, bytes]] = _bundle_envelopes(bundle)
    else:
        assert workspace is not None
        report = workspace.verify(progress=progress, by=by, via=via)
        envelopes = enumerate(workspace.ledger.store.iter_envelopes())
    if not report.ok:
        envelopes = iter(())
    return verify_cells(
        nb,
        envelopes,
        notebook=str(path),
        ledger_ok=report.ok,
        ledger_problem=report.problem,
        genesis_keyid=report.genesis_keyid,
    )
