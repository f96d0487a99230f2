"""``grace run`` (governed, signed notebook runs) and ``grace install`` (the Grace kernel)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grace_kernel.errors import GraceEnvironmentError, InputError

from ._commands import _open
from ._output import Result, grace_command, item_progress

if TYPE_CHECKING:
    from grace_kernel.runs import CellOutcome  # papermill loads only when a run starts

__all__ = ["EXIT_NOTEBOOK_FAILED", "install", "run"]

EXIT_NOTEBOOK_FAILED = 5


def parse_value(raw: str) -> Any:
    """A ``-p`` value the way papermill reads it: int, float, bool, None, else the string."""
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(raw, raw)


def _code_cells(path: Path) -> int:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        return sum(
            1
            for c in nb.get("cells", [])
            if c.get("cell_type") == "code" and "".join(c.get("source", "")).strip()
        )
    except (OSError, ValueError, AttributeError):
        return 0  # the run itself reports an unreadable notebook properly


def _cell_done(done: CellOutcome) -> str:
    return f"cell {done.index}: {done.status}"


@click.command()
@click.argument("notebook", type=click.Path(path_type=Path))
@click.argument("output", required=False, type=click.Path(path_type=Path))
@click.option(
    "-p",
    "--parameter",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="A parameter (int, float, True/False/None are converted; repeatable).",
)
@click.option(
    "-r",
    "--raw",
    "raw_parameters",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="A parameter kept as a string (repeatable).",
)
@click.option("--cwd", type=click.Path(path_type=Path), help="Directory the kernel runs in.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    help="Seconds a single cell may take (default: no limit).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="NOTEBOOK is the output of a run that stopped: run it again under the same run id.",
)
@grace_command
def run(
    notebook: Path,
    output: Path | None,
    parameters: tuple[tuple[str, str], ...],
    raw_parameters: tuple[tuple[str, str], ...],
    cwd: Path | None,
    timeout: float | None,
    resume: bool,
) -> Result:
    """Run a notebook through Grace: every cell scanned, decided, executed and signed.

    Writes OUTPUT (default: NOTEBOOK with .out.ipynb) with each cell's outputs and
    the run's ledger record in its metadata.  A cell that policy refuses stops the
    run (exit 3); one that needs approval stops it with the request id: after
    another person approves, `grace run --resume OUTPUT` runs it again under the
    same run id.  Exit 5 when a cell raised an error.
    """
    from grace_kernel.runs._run import default_output, resume_plan, run_notebook

    values: dict[str, Any] = {name: parse_value(value) for name, value in parameters}
    values.update(dict(raw_parameters))
    run_id = None
    if resume:
        if values:
            raise InputError("--resume re-runs with the stopped run's parameters; drop -p/-r")
        stopped = notebook
        notebook, run_id, values = resume_plan(stopped)
        output = output or stopped
    output = output or default_output(notebook)
    with (
        _open() as ws,
        item_progress(
            _code_cells(notebook) + bool(values),
            unit="cell",
            desc="grace run",
            postfix=_cell_done,
        ) as step,
    ):
        summary = run_notebook(
            ws,
            notebook,
            output,
            parameters=values,
            run_id=run_id,
            cwd=cwd,
            timeout=timeout,
            on_cell=step,
        )
    code = {"ok": 0, "denied": 3, "held": 3}.get(summary.status, EXIT_NOTEBOOK_FAILED)
    return summary.to_json(), summary.text(), code


@click.command()
@click.option("--user", is_flag=True, help="Install for this user instead of this environment.")
@click.option(
    "--prefix", type=click.Path(path_type=Path), help="Install under this prefix (e.g. a venv)."
)
@grace_command
def install(user: bool, prefix: Path | None) -> Result:
    """Install the "Python 3 (Grace)" kernelspecs (grace-python3, and
    grace-python3-sandboxed, which runs the kernel in the OS sandbox) for Jupyter.

    pip installs them into the environment already; this re-installs them, e.g.
    for another prefix or for your user.  The kernels run this Python.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    from grace_kernel.runs._engine import GRACE_KERNEL_NAME
    from grace_kernel.sandbox._provisioner import SANDBOXED_KERNEL_NAME, sandboxed_kernelspec

    if user and prefix:
        raise InputError("choose --user or --prefix, not both")
    spec = {
        "argv": [sys.executable, "-m", "grace_kernel.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (Grace)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    specs = {GRACE_KERNEL_NAME: spec, SANDBOXED_KERNEL_NAME: sandboxed_kernelspec(sys.executable)}
    installed = {}
    for name, body in specs.items():
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "kernel.json").write_text(json.dumps(body, indent=2) + "\n")
            try:
                installed[name] = KernelSpecManager().install_kernel_spec(
                    tmp,
                    name,
                    user=user,
                    prefix=None if user else str(prefix or sys.prefix),
                )
            except OSError as exc:
                raise GraceEnvironmentError(
                    f"cannot install the kernelspec: {exc}",
                    hint="try `grace install --user`",
                ) from None
    where = installed[GRACE_KERNEL_NAME]
    data = {
        "ok": True,
        "name": GRACE_KERNEL_NAME,
        "path": where,
        "argv": spec["argv"],
        "sandboxed": {"name": SANDBOXED_KERNEL_NAME, "path": installed[SANDBOXED_KERNEL_NAME]},
    }
    text = (
        f"installed {GRACE_KERNEL_NAME} (Python 3 (Grace)) in {where}\n"
        f"installed {SANDBOXED_KERNEL_NAME} (Python 3 (Grace, sandboxed)) in "
        f"{installed[SANDBOXED_KERNEL_NAME]}"
    )
    return data, text, 0
