"""Grace inside a kernel: the ``%grace`` magics, the cell gate and the runtime guard.

``%load_ext grace_kernel`` (or the "Python 3 (Grace)" kernel, which loads it
at start and refuses every cell if it cannot) calls :func:`load`.  See
:mod:`grace_kernel.kernel._session` for the two trust modes and
``docs/kernel.md`` for what is checked where.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["load", "load_failed_closed", "unload"]

_SESSION_KEY = "_grace_session"


def load(shell: Any) -> None:
    """Wire Grace into ``shell``: gate, guard, magics and reply metadata (idempotent)."""
    if getattr(shell, _SESSION_KEY, None) is not None:
        return
    import ast

    from grace_kernel.config import Settings
    from grace_kernel.kernel._magics import GraceMagics
    from grace_kernel.kernel._session import KernelSession, kernel_identity
    from grace_kernel.workspace import current_user

    environ = os.environ
    supervisor = environ.get("GRACE_SUPERVISOR", "").strip() or None
    settings = Settings.from_env(environ, cwd=Path.cwd())
    kernel_id, notebook = kernel_identity(environ, shell)
    # Set by the sandbox provisioner: .grace is out of reach, its policies are copied.
    sandboxed = environ.get("GRACE_SANDBOX") == "1"
    sandbox = environ.get("GRACE_SANDBOX_LAYERS", "") if sandboxed else None
    overrides = environ.get("GRACE_WORKSPACE_POLICIES", "").strip()
    session = KernelSession(
        shell,
        settings,
        supervisor=supervisor,
        person=current_user(),
        kernel_id=kernel_id,
        notebook=notebook,
        sandbox=None if sandbox is None else tuple(filter(None, sandbox.split(","))),
        policy_overrides=Path(overrides) if sandbox is not None and overrides else None,
    )

    class Gate(ast.NodeTransformer):
        """IPython runs this on every cell's AST; it allows the cell or rejects it."""

        def visit(self, node: ast.AST) -> ast.AST:
            return session.gate(node)

    gate = Gate()
    shell.input_transformers_cleanup.insert(0, session.capture_raw)
    shell.ast_transformers.insert(0, gate)

    def pre_run_cell(*_info: Any) -> None:
        # A cell that removed the gate gets it back before the next cell runs.
        if gate not in shell.ast_transformers:
            shell.ast_transformers.insert(0, gate)
        if session.capture_raw not in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.insert(0, session.capture_raw)

    def post_run_cell(result: Any) -> None:
        try:
            session.post_run_cell(result)
        except Exception as exc:  # the cell already ran; say the record is missing
            print(f"[grace] the cell ran but could not be recorded: {type(exc).__name__}: {exc}")

    shell.events.register("pre_run_cell", pre_run_cell)
    shell.events.register("post_run_cell", post_run_cell)
    _gate_user_expressions(shell, session)
    _route_shell_escapes(shell)
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        finish = kernel.finish_metadata

        def finish_metadata(parent: Any, metadata: Any, reply_content: Any) -> Any:
            metadata = finish(parent, metadata, reply_content)
            try:
                metadata["grace"] = session.reply_metadata()
            except Exception as exc:  # reporting must not break the reply
                metadata["grace"] = {"error": f"{type(exc).__name__}: {exc}"}
            return metadata

        kernel.finish_metadata = finish_metadata
    shell.register_magics(GraceMagics(shell, session))
    session.install_guard()
    setattr(shell, _SESSION_KEY, session)


def _gate_user_expressions(shell: Any, session: Any) -> None:
    """``user_expressions`` of an execute request are evaluated without transformers: gate them."""
    from IPython.core.error import InputRejected

    evaluate = shell.user_expressions

    def user_expressions(expressions: dict[str, str]) -> dict[str, Any]:
        allowed: dict[str, str] = {}
        out: dict[str, Any] = {}
        for name, expr in expressions.items():
            import ast as _ast

            try:
                session.gate(_ast.parse(expr, mode="eval"))
            except (InputRejected, SyntaxError) as exc:
                out[name] = {
                    "status": "error",
                    "ename": type(exc).__name__,
                    "evalue": str(exc),
                    "traceback": [],
                }
            else:
                allowed[name] = expr
        out.update(evaluate(allowed))
        return out

    shell.user_expressions = user_expressions


def _route_shell_escapes(shell: Any) -> None:
    """Run ``!cmd`` through ``subprocess`` so the runtime guard can decide it.

    IPython runs ``!cmd`` through pexpect, which forks a pty: the guard refuses
    every fork, so even an allow-listed ``!ls`` would fail.  Through
    ``subprocess`` the guard sees ``/bin/sh -c CMD`` and asks the policy about
    CMD like any other command.
    """
    import subprocess
    import sys

    def system(cmd: str) -> None:
        expanded = shell.var_expand(cmd, depth=1)
        with subprocess.Popen(
            ["/bin/sh", "-c", expanded],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None  # stdout=PIPE
            for line in process.stdout:
                sys.stdout.write(line)
            code = process.wait()
        shell.user_ns["_exit_code"] = code

    shell.system = shell.system_piped = system


def load_failed_closed(shell: Any, error: BaseException) -> None:
    """Loading Grace failed: refuse every cell with the reason, never run ungoverned."""
    import ast

    from IPython.core.error import InputRejected

    message = (
        f"Grace could not start in this kernel ({type(error).__name__}: {error}), so no cell "
        "runs (fail closed). Fix the problem (e.g. run `grace init` in the project directory), "
        "then restart the kernel."
    )

    class Refuse(ast.NodeTransformer):
        def visit(self, _node: ast.AST) -> ast.AST:
            raise InputRejected(message)

    shell.ast_transformers.insert(0, Refuse())
    print(f"[grace] {message}")


def unload(shell: Any) -> None:
    """Grace cannot be unloaded from a governed kernel: that would switch the checks off."""
    if getattr(shell, _SESSION_KEY, None) is not None:
        print(
            "[grace] Grace stays loaded: unloading would switch its checks off. Restart the kernel."
        )
