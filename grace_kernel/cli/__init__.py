"""The ``grace`` command line.

Every subcommand has ``--help``, prints human text by default and JSON with
``--json``, and exits 0 only on success (1: verification failed, 2: bad input,
3: refused by policy, 4: environment problem, 5: a notebook run failed in a
cell, 70: a bug in Grace).
"""

from __future__ import annotations

import click

from grace_kernel import __version__

from ._alerts import alerts
from ._commands import attest, init, keys, ledger, status, verify
from ._dashboard import dashboard
from ._governance import approvals, policy
from ._health import heal, mode
from ._knowledge import ingest, knowledge
from ._quarantine import quarantine
from ._runs import install, run
from ._sandbox import doctor, sandbox
from ._scan import scan

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grace")
def cli() -> None:
    """Grace: a governed research workbench with a signed, tamper-evident ledger.

    The workspace is GRACE_HOME, else the nearest .grace directory at or above
    the current directory, else ./.grace (created by `grace init`).
    """


for command in (
    init,
    status,
    keys,
    attest,
    ledger,
    verify,
    run,
    install,
    policy,
    approvals,
    alerts,
    scan,
    quarantine,
    doctor,
    sandbox,
    heal,
    mode,
    dashboard,
    ingest,
    knowledge,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="grace")
