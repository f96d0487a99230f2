"""Which Grace kernels the server starts in the OS sandbox, and the record that says so.

``c.GraceServer.sandbox_kernels`` (``never`` | ``untrusted`` | ``always``,
default ``untrusted``) decides for every "Python 3 (Grace)" kernel started for
a notebook.  *Untrusted* means either of:

- Jupyter's own notebook trust fails: the notebook exists and its signature
  is not in this server's trust database (it was not last saved here, or it
  changed outside Jupyter; ``jupyter trust NOTEBOOK`` trusts it);
- Hunter finds a high or critical finding in it (code, outputs, markdown).

Such a kernel starts as "Python 3 (Grace, sandboxed)" instead, and the
server says so: a log line, a ``kernel-sandboxed`` event, and a signed
``sandbox-kernel`` ledger record (layers, level, limits, kernel id,
notebook, reasons).  A kernel asked for by the sandboxed name directly gets
the same record.  Before any sandboxed start the server governs a
``sandbox.run`` action at this machine's isolation level: below what the
policy requires (seeded: ``sandbox-minimum-isolation``) the kernel is
refused with the reason, never started unconfined.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from tornado.web import HTTPError
from traitlets import Enum, Float, Int
from traitlets.config import Configurable

from grace_kernel.events import KernelSandboxed
from grace_kernel.governance import Principal, Severity
from grace_kernel.hunter import Scanner, summarize
from grace_kernel.ledger import Subject, predicate_type_urn
from grace_kernel.runs._engine import GRACE_KERNEL_NAME
from grace_kernel.sandbox import probe
from grace_kernel.sandbox._provisioner import (
    PROVISIONER_NAME,
    SANDBOXED_KERNEL_NAME,
    KernelSandbox,
    isolation_refusal,
    kernel_action,
)
from grace_kernel.server._service import ServerService

__all__ = [
    "SANDBOX_KERNEL",
    "GraceServer",
    "Placement",
    "SandboxMode",
    "notebook_file",
    "record_sandboxed",
    "sandbox_reasons",
    "start_placed",
    "untrusted_reasons",
]

SANDBOX_KERNEL = predicate_type_urn("sandbox-kernel")
SandboxMode = Literal["never", "untrusted", "always"]
_UNTRUSTED_AT = Severity.HIGH

StartKernel = Callable[..., Awaitable[str]]


class GraceServer(Configurable):
    """Grace's server-side options (``c.GraceServer.*`` in jupyter_server_config)."""

    sandbox_kernels = Enum(
        ["never", "untrusted", "always"],
        default_value="untrusted",
        config=True,
        help=(
            "Which Grace kernels run in the OS sandbox: never; those started for an "
            "untrusted notebook (Jupyter's notebook trust fails, or Hunter finds a high or "
            "critical finding); or always."
        ),
    )
    burst_action = Enum(
        ["isolate", "safe", "none"],
        default_value="isolate",
        config=True,
        help=(
            "What a burst of high-severity signals from one kernel (cells with high or "
            "critical Hunter findings, runtime-guard blocks) leads to: restart the kernel in "
            "the OS sandbox (isolate), move Grace to safe mode (safe), or only record it."
        ),
    )
    burst_threshold = Int(
        5, config=True, help="How many high-severity signals from one kernel make a burst."
    )
    burst_window = Float(
        60.0, config=True, help="Within how many seconds the burst's signals must fall."
    )


def notebook_file(session_name: str | None, root_dir: Path) -> Path | None:
    """The notebook a kernel is started for (``JPY_SESSION_NAME``), as a file path."""
    if not session_name:
        return None
    path = Path(session_name)
    return path if path.is_absolute() else root_dir / path


def untrusted_reasons(path: Path, *, notary: Any, scanner: Scanner) -> list[str]:
    """Why an existing notebook is untrusted; empty when it is trusted, absent or not a notebook."""
    if path.suffix != ".ipynb" or not path.is_file():
        return []
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises many kinds; any of them means "cannot trust it"
        return [f"it cannot be read as a notebook ({type(exc).__name__}: {exc})"]
    reasons = []
    if not notary.check_signature(nb):
        reasons.append(
            "Jupyter does not trust it: its signature is not in this server's trust database "
            "(not last saved here, or changed outside Jupyter)"
        )
    risky = [f for f in scanner.scan_notebook_cells(path) if f.effective_severity >= _UNTRUSTED_AT]
    if risky:
        summary = summarize(risky)
        rules = ", ".join(sorted(summary.rule_ids))
        reasons.append(f"Hunter found {summary.max_severity.name.lower()} findings ({rules})")
    return reasons


def sandbox_reasons(
    mode: SandboxMode, kernel_name: str, notebook: Path | None, *, notary: Any, scanner: Scanner
) -> list[str]:
    """Why a kernel named ``kernel_name`` must run sandboxed; empty: it runs as asked."""
    if kernel_name != GRACE_KERNEL_NAME or mode == "never":
        return []
    if mode == "always":
        return ["the server runs every Grace kernel sandboxed (sandbox_kernels = always)"]
    if notebook is None:
        return []
    return untrusted_reasons(notebook, notary=notary, scanner=scanner)


def _sandboxed(kernel_spec_manager: Any, name: str) -> bool:
    try:
        spec = kernel_spec_manager.get_kernel_spec(name)
    except NoSuchKernel:
        return False
    provisioner = (spec.metadata or {}).get("kernel_provisioner") or {}
    return bool(provisioner.get("provisioner_name") == PROVISIONER_NAME)


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a kernel runs: asked for ``requested``, started as ``kernel_name``, and why."""

    requested: str
    kernel_name: str
    notebook: Path | None
    reasons: tuple[str, ...]


def _place(serverapp: Any, service: ServerService, mode: SandboxMode, **kwargs: Any) -> Placement:
    km = serverapp.kernel_manager
    requested = str(kwargs.get("kernel_name") or km.default_kernel_name)
    env = kwargs.get("env") or {}
    notebook = notebook_file(env.get("JPY_SESSION_NAME"), Path(serverapp.root_dir))
    notary = serverapp.contents_manager.notary
    reasons = sandbox_reasons(mode, requested, notebook, notary=notary, scanner=service.scanner)
    name = SANDBOXED_KERNEL_NAME if reasons else requested
    if reasons and not _sandboxed(km.kernel_spec_manager, name):
        raise HTTPError(
            500,
            f"this notebook's Grace kernel must run sandboxed ({'; '.join(reasons)}), but the "
            f"{SANDBOXED_KERNEL_NAME} kernelspec is not installed: run `grace install`",
        )
    if not reasons and _sandboxed(km.kernel_spec_manager, name):
        reasons = [f"the sandboxed kernel {name} was asked for"]
    return Placement(requested, name, notebook, tuple(reasons))


async def start_placed(
    serverapp: Any, service: ServerService, mode: SandboxMode, start: StartKernel, **kwargs: Any
) -> str:
    """Start a kernel where policy puts it: sandboxed (governed, recorded) or as asked."""
    placement = _place(serverapp, service, mode, **kwargs)
    if not placement.reasons:
        return await start(**kwargs)
    report = await asyncio.to_thread(probe)
    notebook = _relative(placement.notebook, Path(serverapp.root_dir))
    action = kernel_action(
        placement.kernel_name,
        report.level,
        principal=Principal.service("jupyter-server"),
        detail={"notebook": notebook, "reasons": list(placement.reasons)},
    )
    decision = service.workspace.governance.govern(action)
    if not decision.allowed:
        raise HTTPError(403, isolation_refusal(decision, report, report.level))
    serverapp.log.warning(
        "Grace: the kernel for %s runs in the OS sandbox (%s, level %d): %s",
        notebook or "a new session",
        placement.kernel_name,
        report.level,
        "; ".join(placement.reasons),
    )
    kernel_id = await start(**{**kwargs, "kernel_name": placement.kernel_name})
    kernel = serverapp.kernel_manager.get_kernel(kernel_id)
    ready = kernel.ready
    await (asyncio.wrap_future(ready) if isinstance(ready, concurrent.futures.Future) else ready)
    sandbox = getattr(kernel.provisioner, "sandbox", None)
    if not isinstance(sandbox, KernelSandbox):
        raise HTTPError(500, f"kernel {kernel_id} did not start in the sandbox")
    record_sandboxed(
        service,
        kernel_id=kernel_id,
        placement=placement,
        notebook=notebook,
        sandbox=sandbox,
        mode=mode,
        decision_id=decision.decision_id,
        decision_index=decision.ledger_index,
    )
    return kernel_id


def _relative(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.absolute().relative_to(root.absolute()))
    except ValueError:
        return str(path)


def record_sandboxed(
    service: ServerService,
    *,
    kernel_id: str,
    placement: Placement,
    notebook: str | None,
    sandbox: KernelSandbox,
    mode: SandboxMode,
    decision_id: str,
    decision_index: int | None,
) -> int:
    """One signed ``sandbox-kernel`` record and a ``kernel-sandboxed`` event."""
    config = {"kernel_name": placement.kernel_name, **sandbox.to_json()}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    subjects = [Subject(f"kernel:{kernel_id}", digest)]
    if placement.notebook is not None and placement.notebook.is_file():
        data = placement.notebook.read_bytes()
        subjects.append(Subject(f"notebook:{notebook}", hashlib.sha256(data).hexdigest()))
    entry = service.workspace.ledger.append(
        subjects=subjects,
        predicate_type=SANDBOX_KERNEL,
        predicate={
            **config,
            "kernel_id": kernel_id,
            "requested_kernel": placement.requested,
            "notebook": notebook,
            "reasons": list(placement.reasons),
            "sandbox_kernels": mode,
            "decision_id": decision_id,
            "decision_index": decision_index,
        },
    )
    service.workspace.events.emit(
        KernelSandboxed(
            kernel_id=kernel_id,
            kernel_name=placement.kernel_name,
            notebook=notebook,
            level=sandbox.level,
            layers=list(sandbox.layers),
            reasons=list(placement.reasons),
            record_index=entry.index,
        )
    )
    return entry.index
