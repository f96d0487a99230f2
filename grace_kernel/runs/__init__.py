"""Governed notebook runs: the papermill engine ``grace``, ``grace run``, and provenance.

- :class:`GraceEngine` — registered on papermill's ``papermill.engine`` entry
  point, so ``papermill --engine grace in.ipynb out.ipynb`` is a governed run;
- :func:`run_notebook` — what ``grace run`` does (parameters, resume, summary);
- :func:`verify_notebook` — ``grace verify --notebook``: does every code cell
  match a signed record, in the workspace or in a bundle;
- the record formats (:data:`CELL_EXECUTION`, :data:`NOTEBOOK_RUN`) and the
  output normalization they rest on (:func:`output_digests`).

Names load on first use: importing the package does not import papermill.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "CELL_EXECUTION",
    "GRACE_KERNEL_NAME",
    "NOTEBOOK_RUN",
    "CellAction",
    "CellCheck",
    "CellOutcome",
    "CellVerdict",
    "GraceEngine",
    "NotebookReport",
    "RunContext",
    "RunSummary",
    "cell_action",
    "cell_record",
    "code_digest",
    "normalize_outputs",
    "output_digests",
    "outputs_digest",
    "run_notebook",
    "summarize",
    "verify_notebook",
]

_LAZY = {
    "CELL_EXECUTION": "_records",
    "NOTEBOOK_RUN": "_records",
    "CellAction": "_records",
    "cell_action": "_records",
    "cell_record": "_records",
    "code_digest": "_records",
    "normalize_outputs": "_records",
    "output_digests": "_records",
    "outputs_digest": "_records",
    "summarize": "_records",
    "CellCheck": "_provenance",
    "CellVerdict": "_provenance",
    "NotebookReport": "_provenance",
    "GRACE_KERNEL_NAME": "_engine",
    "CellOutcome": "_engine",
    "GraceEngine": "_papermill",
    "RunContext": "_engine",
    "RunSummary": "_run",
    "run_notebook": "_run",
    "verify_notebook": "_run",
}

if TYPE_CHECKING:
    from grace_kernel.runs._engine import GRACE_KERNEL_NAME, CellOutcome, RunContext
    from grace_kernel.runs._papermill import GraceEngine
    from grace_kernel.runs._provenance import CellCheck, CellVerdict, NotebookReport
    from grace_kernel.runs._records import (
        CELL_EXECUTION,
        NOTEBOOK_RUN,
        CellAction,
        cell_action,
        cell_record,
        code_digest,
        normalize_outputs,
        output_digests,
        outputs_digest,
        summarize,
    )
    from grace_kernel.runs._run import RunSummary, run_notebook, verify_notebook


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'grace_kernel.runs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"grace_kernel.runs.{module}"), name)
