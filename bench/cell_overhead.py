"""Added latency per cell of the governed path, against a plain kernel, in one run:

    python bench/cell_overhead.py [--cells N] [--json]

- anchor: papermill's notebook client with the plain ``python3`` kernel;
- Grace: the same client class with Grace's per-cell path (Hunter scan, Cedar
  decision, a signed decision record, the request metadata, a signed
  cell-execution record after the outputs) and the Grace kernel (its own
  in-kernel check and the runtime guard).

Both kernels run side by side: cell i goes to one and then the other
(alternating which is first), so a change in machine load hits both alike.
The cells are N of typical size (imports, arithmetic, comprehensions, small
functions, string formatting, prints; 3-15 lines).  Each cell is timed from
the client's side, request to reply and outputs; "added" is the per-cell
difference (Grace minus plain), whose p50 and p99 are reported.
Target (issue 5): p50 <= 3 ms and p99 <= 15 ms added.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NotebookExecutionManager
from papermill.execute import prepare_notebook_metadata
from papermill.iorw import load_notebook_node

from grace_kernel import Settings, Workspace
from grace_kernel.runs._engine import GRACE_KERNEL_NAME, GraceNotebookClient, RunContext

TEMPLATES = [
    "import math\nvalues = [math.sqrt(i + {n}) for i in range(50)]\ntotal = sum(values)\ntotal",
    "def scale(xs, k={n}):\n    return [x * k for x in xs]\n\n"
    "result = scale(range(20))\nlen(result)",
    "counts = {{}}\nfor word in 'the quick brown fox jumps over the lazy dog'.split():\n"
    "    counts[word] = counts.get(word, 0) + {n}\nsorted(counts.items())[:3]",
    "rows = [(i, i * i, i % 7) for i in range({n} % 40 + 10)]\n"
    "header = f'{{len(rows)}} rows'\nprint(header)\nprint(rows[:2])",
    "import statistics\nsample = [((i * {n}) % 97) / 10 for i in range(200)]\n"
    "mean = statistics.fmean(sample)\nspread = statistics.pstdev(sample)\n"
    "print(f'mean={{mean:.3f}} sd={{spread:.3f}}')",
    "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n\n"
    "    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n\n"
    "Point({n}, 4).norm()",
    "text = ', '.join(str(i) for i in range({n} % 30))\nlength = len(text)\nlength",
    "matrix = [[(r * c + {n}) % 10 for c in range(12)] for r in range(12)]\n"
    "diag = [matrix[i][i] for i in range(12)]\nprint(sum(diag))",
]


def cells(count: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)].format(n=i) for i in range(count)]


def _notebook(sources: list[str], where: Path) -> nbformat.NotebookNode:
    """The notebook as papermill prepares it (its execution manager expects that metadata)."""
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = where / "bench.ipynb"
    nbformat.write(nb, str(path))
    prepared: nbformat.NotebookNode = prepare_notebook_metadata(
        load_notebook_node(str(path)), str(path), ""
    )
    return prepared


def paired_run(sources: list[str], ws: Workspace, cwd: Path) -> tuple[list[float], list[float]]:
    """Both kernels up at once; cell i runs on each in turn (alternating which goes first),
    so drift in machine load hits both sides alike.  Returns per-cell milliseconds."""
    resources = {"metadata": {"path": str(cwd)}}
    plain_man = NotebookExecutionManager(_notebook(sources, cwd), progress_bar=False)
    grace_man = NotebookExecutionManager(_notebook(sources, cwd), progress_bar=False)
    plain_man.notebook_start()  # what papermill's Engine does first
    grace_man.notebook_start()
    context = RunContext(ws, run_id="bench", person="bench", input_path=None, parameters={})
    plain = PapermillNotebookClient(plain_man, kernel_name="python3", resources=resources)
    grace = GraceNotebookClient(
        grace_man, run=context, kernel_name=GRACE_KERNEL_NAME, resources=resources
    )
    times: dict[str, list[float]] = {"plain": [], "grace": []}

    def timed(name: str, client: Any, index: int) -> None:
        started = time.perf_counter()
        client.execute_cell(client.nb.cells[index], index)
        times[name].append((time.perf_counter() - started) * 1000)

    plain.reset_execution_trackers()
    grace.reset_execution_trackers()
    try:
        with plain.setup_kernel(), grace.setup_kernel():
            for index in range(len(sources)):
                order = [("plain", plain), ("grace", grace)]
                for name, client in order if index % 2 else reversed(order):
                    timed(name, client, index)
    finally:
        context.close()
    statuses = {o.status for o in context.outcomes}
    if statuses != {"ok"}:
        raise SystemExit(f"a benchmark cell did not run cleanly: {statuses}")
    return times["plain"], times["grace"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def paired_figures(plain: list[float], grace: list[float]) -> dict[str, float]:
    """Percentiles of both sides and of the per-cell differences (Grace minus plain)."""
    added = [g - p for g, p in zip(grace, plain, strict=True)]
    return {
        "cells": len(plain),
        "plain_p50_ms": percentile(plain, 50),
        "plain_p99_ms": percentile(plain, 99),
        "grace_p50_ms": percentile(grace, 50),
        "grace_p99_ms": percentile(grace, 99),
        "added_p50_ms": percentile(added, 50),
        "added_p99_ms": percentile(added, 99),
        "ratio_p50": percentile(grace, 50) / percentile(plain, 50),
        "grace_mean_ms": statistics.fmean(grace),
        "plain_mean_ms": statistics.fmean(plain),
    }


def report(
    figures: dict[str, float], *, title: str, anchor: str, target: str, as_json: bool
) -> None:
    """Print the figures as JSON, or as the table the README quotes."""
    if as_json:
        print(json.dumps({k: round(v, 3) for k, v in figures.items()}, indent=2))
        return
    print(title)
    for label, key in ((anchor, "plain"), ("with Grace", "grace"), ("added", "added")):
        p50, p99 = figures[f"{key}_p50_ms"], figures[f"{key}_p99_ms"]
        print(f"  {label:<15}: p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    print(f"  target added   : {target}")
    print(f"  ratio (p50)    : {figures['ratio_p50']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sources = cells(args.cells)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with Workspace.open(Settings(home=root / ".grace")) as ws:
            plain, grace = paired_run(sources, ws, root)
            records = ws.ledger.size
    figures = {**paired_figures(plain, grace), "ledger_records": records}
    report(
        figures,
        title=f"{args.cells} cells, per cell, client side (request to reply and outputs):",
        anchor="plain kernel",
        target="p50 <= 3 ms, p99 <= 15 ms",
        as_json=args.json,
    )


if __name__ == "__main__":
    main()
