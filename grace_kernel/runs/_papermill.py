"""The ``grace`` engine as papermill sees it (entry point ``papermill.engine``).

papermill loads its entry points while ``papermill.engines`` itself is still
being imported, so this module imports nothing of papermill but ``Engine``
(already defined by then) and reaches the runner lazily, inside the call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from papermill.engines import Engine

from grace_kernel.errors import InputError

__all__ = ["GraceEngine"]

GRACE_KERNEL_NAME = "grace-python3"


class GraceEngine(Engine):  # type: ignore[misc]  # untyped base
    """``papermill --engine grace``: governed, signed runs with the Grace kernel."""

    @classmethod
    def nb_kernel_name(cls, nb: Any, _name: str | None = None) -> str:
        """Always the Grace kernel: the notebook's own kernel would run ungoverned."""
        language = nb.metadata.get("kernelspec", {}).get("language") or nb.metadata.get(
            "language_info", {}
        ).get("name", "python")
        if str(language).lower() != "python":
            raise InputError(f"the grace engine runs Python notebooks, not {language}")
        return GRACE_KERNEL_NAME

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        from grace_kernel.config import Settings
        from grace_kernel.runs._engine import (
            GraceNotebookClient,
            RunContext,
            new_run_id,
            require_grace_kernel,
        )
        from grace_kernel.workspace import Workspace, current_user

        if kernel_name != GRACE_KERNEL_NAME:  # nb_kernel_name always answers the Grace kernel
            raise InputError(f"the grace engine runs {GRACE_KERNEL_NAME}, not {kernel_name}")
        require_grace_kernel()
        run: RunContext | None = kwargs.pop("grace_run", None)
        input_path = kwargs.pop("input_path", None)
        kwargs.pop("timeout", None)
        kwargs.pop("startup_timeout", None)
        own = None
        if run is None:  # plain `papermill --engine grace`: open the workspace here
            own = Workspace.open(Settings.from_env(os.environ, cwd=Path.cwd()), create=False)
            parameters = nb_man.nb.metadata.get("papermill", {}).get("parameters", {}) or {}
            run = RunContext(
                own,
                run_id=new_run_id(),
                person=current_user(),
                input_path=Path(input_path) if isinstance(input_path, str) else None,
                parameters=parameters,
            )
        try:
            client = GraceNotebookClient(
                nb_man,
                run=run,
                kernel_name=GRACE_KERNEL_NAME,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **kwargs,
            )
            try:
                client.execute()
            finally:
                run.finish(nb_man.nb, output_path=nb_man.output_path, kernel_name=GRACE_KERNEL_NAME)
        finally:
            if own is not None:
                own.close()
        return nb_man.nb
