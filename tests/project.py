"""A project directory with an initialized ``.grace`` workspace, and the real CLI run in it.

Shared by the suites that drive the ``grace`` command in-process (click's
``CliRunner``) the way a person does: in the project directory, as the OS user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from grace_kernel.cli import cli
from grace_kernel.config import Settings
from grace_kernel.workspace import Workspace


@dataclasses.dataclass(frozen=True)
class WorkspaceProject:
    root: Path

    @classmethod
    def create(cls, root: Path) -> WorkspaceProject:
        root.mkdir(parents=True, exist_ok=True)
        Workspace.open(Settings(home=root / ".grace", checkpoint_interval=0.0)).close()
        return cls(root)

    @property
    def home(self) -> Path:
        return self.root / ".grace"

    def open(self) -> Workspace:
        return Workspace.open(Settings(home=self.home, checkpoint_interval=0.0), create=False)

    def write(self, name: str, content: str | bytes, *, mode: int = 0o644) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)
        return path

    def grace(self, *args: str, code: int = 0) -> Result:
        with contextlib.chdir(self.root):  # as a person runs it, in the project directory
            done = CliRunner().invoke(cli, list(args), env={"GRACE_HOME": str(self.home)})
        assert done.exit_code == code, (done.output, done.exception)
        return done

    def grace_json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self.grace(*args, "--json", code=code).stdout)
