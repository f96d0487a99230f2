"""How every ``grace`` command reports: human text by default, ``--json`` for scripts.

A command body returns ``(data, human_text, exit_code)``; the wrapper prints
one or the other and exits with the code.  Errors from Grace become their
``diagnostics()`` on stderr (or ``{"ok": false, "error": {...}}`` with
``--json``) and their exit code; an unexpected exception becomes exit 70 with a
one-line message (the traceback only with ``GRACE_DEBUG=1``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError

__all__ = ["Result", "grace_command", "json_mode", "settings_from_env", "utc_time"]

Result = tuple[Any, str, int]
F = TypeVar("F", bound=Callable[..., Result])
_T = TypeVar("_T")

EXIT_INTERNAL = 70


def settings_from_env() -> Settings:
    """The one place the CLI reads the environment."""
    return Settings.from_env(os.environ, cwd=Path.cwd())


def utc_time(ts: float) -> str:
    """A timestamp as people read it in command output: UTC, to the second."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def json_mode() -> bool:
    """Whether the running command was given ``--json``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get("grace.json"))


@contextmanager
def item_progress(
    total: int, *, unit: str, desc: str, postfix: Callable[[_T], str]
) -> Iterator[Callable[[_T], None] | None]:
    """A per-item progress bar on stderr, for a person at a terminal only: the step
    it yields takes each finished item (``postfix`` says what became of it)."""
    if json_mode() or not sys.stderr.isatty() or total < 2:
        yield None
        return
    from tqdm import tqdm  # only a person at a terminal pays for the import

    with tqdm(total=total, unit=unit, file=sys.stderr, desc=desc) as bar:

        def step(item: _T) -> None:
            bar.set_postfix_str(postfix(item))
            bar.update(1)

        yield step


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def grace_command(func: Callable[..., Result]) -> Callable[..., None]:
    """Add ``--json`` to a command and turn its result or error into output and an exit code."""

    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> None:
        click.get_current_context().meta["grace.json"] = as_json
        try:
            data, text, code = func(*args, **kwargs)
        except GraceError as exc:
            if as_json:
                _print_json({"ok": False, "error": exc.to_json()})
            else:
                click.echo(exc.diagnostics(), err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # the last line of defence: never a raw traceback
            message = f"internal error: {type(exc).__name__}: {exc}"
            if as_json:
                _print_json({"ok": False, "error": {"kind": "internal", "message": message}})
            else:
                click.echo(
                    f"error: {message}\n  hint: this is a bug in Grace; please report it "
                    "(set GRACE_DEBUG=1 to see the traceback)",
                    err=True,
                )
            if os.environ.get("GRACE_DEBUG"):
                traceback.print_exc()
            sys.exit(EXIT_INTERNAL)
        if as_json:
            _print_json(data)
        elif text:
            click.echo(text)
        sys.exit(code)

    return wrapper
