"""``grace dashboard``: serve one Voila dashboard (or all of them) on 127.0.0.1.

The notebooks ship inside the package (``grace_widgets/_dashboards`` in a
wheel, ``notebooks/dashboards`` in a checkout; see docs/dashboards.md).  Voila
runs in this process's place (``exec``), so stopping ``grace dashboard``
(Ctrl-C, SIGTERM) stops Voila, which shuts its kernels down.  While it runs,
a kernel whose page was closed is culled: idle and unconnected for
``--cull-idle`` seconds, checked every ``--cull-interval`` seconds.  Voila
also shuts a page's kernel down when the page is unloaded normally.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from typing import Any

import click

from grace_kernel.errors import GraceEnvironmentError

from ._output import Result, grace_command, json_mode, settings_from_env

__all__ = ["dashboard", "voila_argv"]

DEFAULT_PORT = 8866


def _catalog() -> dict[str, str]:
    # grace_widgets sits above grace_kernel (DESIGN.md §3): imported by the command only.
    from grace_widgets import DASHBOARDS

    return DASHBOARDS


def voila_argv(target: str, *, port: int, cull_idle: int, cull_interval: int) -> list[str]:
    """The Voila command line: loopback only, a token, kernel culling, no sources shown."""
    return [
        sys.executable,
        "-m",
        "voila",
        target,
        f"--Voila.port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--Voila.open_browser=False",  # Voila would open its URL without the token
        "--Voila.auto_token=True",  # the token itself comes from JUPYTER_TOKEN
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        "--MappingKernelManager.cull_connected=False",  # an open page keeps its kernel
        "--MappingKernelManager.cull_busy=False",
    ]


def _check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise GraceEnvironmentError(
                f"port {port} on 127.0.0.1 is not free: {exc.strerror}",
                hint="choose another with --port",
            ) from None


@click.command("dashboard")
@click.argument("name", required=False)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--list", "list_only", is_flag=True, help="List the dashboards and exit.")
@click.option(
    "--cull-idle",
    type=click.IntRange(1, 86_400),
    default=600,
    show_default=True,
    help="Shut down a kernel whose page is closed after this many idle seconds.",
)
@click.option(
    "--cull-interval",
    type=click.IntRange(1, 3600),
    default=60,
    show_default=True,
    help="How often (seconds) to look for such kernels.",
)
@grace_command
def dashboard(
    name: str | None,
    port: int,
    no_browser: bool,
    list_only: bool,
    cull_idle: int,
    cull_interval: int,
) -> Result:
    """Serve a Voila dashboard (security, governance, verification, health, knowledge), or all.

    Read-only views of the workspace (GRACE_HOME, else the nearest .grace),
    refreshed in place; on 127.0.0.1 with a random token in the URL.
    """
    from grace_widgets import dashboard_path, dashboards_dir

    catalog = _catalog()
    if list_only:
        rows = [
            {"name": n, "shows": what, "notebook": str(dashboard_path(n))}
            for n, what in catalog.items()
        ]
        text = "\n".join(f"{r['name']:<13} {r['shows']}" for r in rows)
        return rows, text, 0
    target = dashboard_path(name) if name is not None else dashboards_dir()
    settings = settings_from_env()
    _check_port(port)
    token = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}/?token={token}"
    info: dict[str, Any] = {
        "url": url,
        "dashboard": name or "all",
        "notebook": str(target),
        "workspace": str(settings.home),
        "workspace_exists": settings.db_path.is_file(),
        "cull_idle": cull_idle,
        "cull_interval": cull_interval,
    }
    if json_mode():
        click.echo(_json_line(info))
    else:
        click.echo(f"grace: serving the {info['dashboard']} dashboard of {settings.home}")
        if not info["workspace_exists"]:
            click.echo("grace: no workspace there yet (`grace init`): the dashboards are empty")
        click.echo(f"grace: open {url}   (Ctrl-C stops it)")
    sys.stdout.flush()
    env = {**os.environ, "GRACE_HOME": str(settings.home), "JUPYTER_TOKEN": token}
    argv = voila_argv(str(target), port=port, cull_idle=cull_idle, cull_interval=cull_interval)
    if not no_browser:
        _open_browser_when_up(url, port)
    os.execve(argv[0], argv, env)  # noqa: S606 - replaces this process with Voila, fixed argv
    raise AssertionError("unreachable")  # pragma: no cover


# Run detached: waits (at most a minute) for the port to answer, then opens the URL.  The
# URL, token included, travels in the environment, which other users cannot read.
_OPENER = """
import os, socket, time, webbrowser
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(os.environ["GRACE_DASHBOARD_PORT"])), 1).close()
    except OSError:
        time.sleep(0.3)
        continue
    webbrowser.open(os.environ["GRACE_DASHBOARD_URL"])
    break
"""


def _open_browser_when_up(url: str, port: int) -> None:
    env = {**os.environ, "GRACE_DASHBOARD_URL": url, "GRACE_DASHBOARD_PORT": str(port)}
    subprocess.Popen(  # fixed argv: this interpreter and the code above
        [sys.executable, "-c", _OPENER],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _json_line(data: dict[str, Any]) -> str:
    import json

    return json.dumps({"ok": True, **data}, sort_keys=True)
