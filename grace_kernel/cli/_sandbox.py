"""``grace doctor`` (the isolation matrix) and ``grace sandbox run`` (governed, isolated runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from grace_kernel.errors import InputError
from grace_kernel.governance import Principal
from grace_kernel.sandbox import LAYERS, IsolationReport, Limits, parse_size, probe
from grace_kernel.sandbox._attacks import AttackOutcome, run_attacks
from grace_kernel.sandbox._governed import GovernedRun, SandboxRequest, run_governed
from grace_kernel.sandbox._langs import LANGUAGES
from grace_kernel.workspace import current_user

from ._commands import _open
from ._output import Result, grace_command, json_mode

__all__ = ["EXIT_RUN_FAILED", "doctor", "sandbox"]

EXIT_RUN_FAILED = 5
# ---------------------------------------------------------------- doctor


def _matrix_text(report: IsolationReport) -> list[str]:
    lines = [
        f"isolation level {report.level} of {len(LAYERS)} "
        f"(probed in {report.probe_ms:.0f} ms; sandboxed code runs as {report.user})",
        "",
    ]
    for layer in report.layers:
        mark = "active " if layer.active else "MISSING"
        lines.append(f"  {mark}  {layer.name:<10}  {layer.detail}")
    if report.level < len(LAYERS):
        names = ", ".join(layer.name for layer in report.missing())
        lines += ["", f"missing: {names}; policies requiring a higher level will deny runs"]
    return lines


def _attack_line(outcome: AttackOutcome) -> str:
    verdict = f"stopped by {outcome.stopped_by}" if outcome.stopped else "NOT STOPPED"
    if not outcome.as_expected:
        expected = outcome.expected or "nothing on this machine"
        verdict += f" (expected: {expected})"
    return f"  {outcome.attack:<18} {verdict:<34} {outcome.evidence[:70]}"


@click.command()
@click.option("--attacks", is_flag=True, help="Also run the attack matrix in the sandbox.")
@click.option("--level", type=click.IntRange(1, len(LAYERS)), help="Use only the first N layers.")
@click.option("--python", "python", help="Interpreter for the attacks (default: this one).")
@click.option("--refresh", is_flag=True, help="Probe again instead of using this process's cache.")
@grace_command
def doctor(attacks: bool, level: int | None, python: str | None, refresh: bool) -> Result:
    """Tell the truth about isolation here: which sandbox layers work, which are missing, why.

    The layers, weakest first: process (session, rlimits, scrubbed environment,
    private directory, uid drop), seccomp, Landlock, bubblewrap, cgroups.  The
    level is how many of them, from the first, are active; policies can require
    a minimum (`sandbox_level`).  With --attacks, the attack matrix (network,
    file writes and reads, memory, fork bomb, CPU, descriptors, file size,
    exec, ctypes, fork_exec) runs in the sandbox and each result names the
    layer that stopped it.  Exit 1 if an attack gets through that a layer here
    should have stopped.
    """
    report = probe(refresh=refresh)
    data: dict[str, Any] = report.to_json()
    lines = _matrix_text(report)
    code = 0
    if attacks:
        outcomes = run_attacks(report, level=level, python=python)
        data["attacks"] = [o.to_json() for o in outcomes]
        lines += ["", f"attack matrix (level {level or report.level}):"]
        lines += [_attack_line(o) for o in outcomes]
        failed = [o for o in outcomes if not o.as_expected]
        if failed:
            code = 1
            lines.append(f"\n{len(failed)} attack(s) not stopped where expected")
    data["ok"] = code == 0
    return data, "\n".join(lines), code


# ---------------------------------------------------------------- sandbox run


def _read_code(code_or_file: str) -> tuple[str, str]:
    """(source text, label): ``-`` is stdin, an existing file is read, anything else is code."""
    if code_or_file == "-":
        return sys.stdin.read(), "stdin"
    path = Path(code_or_file)
    try:
        if len(code_or_file) < 4096 and "\n" not in code_or_file and path.is_file():
            return path.read_text(encoding="utf-8"), path.name
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{code_or_file}: cannot read it as UTF-8 text: {exc}") from None
    return code_or_file, "inline"


def _run_text(run: GovernedRun) -> str:
    result = run.result
    if result.timed_out:
        ended = "timed out"
    elif result.signal:
        ended = f"killed by {result.signal}"
    else:
        ended = f"exit {result.exit_code}"
    usage = result.usage
    lines = [
        f"sandbox: {ended} after {usage['wall_s']:.2f} s "
        f"(cpu {usage['cpu_user_s'] + usage['cpu_sys_s']:.2f} s, "
        f"max rss {usage['max_rss_kib'] / 1024:.0f} MiB)",
        f"  level {result.level}: {', '.join(result.layers) or 'none'}"
        + (f"; missing: {', '.join(result.missing)}" if result.missing else ""),
    ]
    lines += [f"  stopped by {reason}" for reason in result.stopped_by]
    for f in run.files:
        where = f"-> {f.copied_to}" if f.copied_to else f"({f.held})"
        lines.append(f"  wrote {f.path} ({f.size} bytes) {where}")
    if result.truncated:
        lines.append("  output was truncated at the capture limit")
    lines.append(f"  ledger record {run.record_index} (decision {run.decision_id})")
    return "\n".join(lines)


@click.group()
def sandbox() -> None:
    """Run untrusted code inside every isolation layer this machine offers."""


@sandbox.command("run", context_settings={"ignore_unknown_options": False})
@click.option("--lang", type=click.Choice(LANGUAGES), default="python", show_default=True)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Wall clock, s.")
@click.option("--cpu", "cpu", type=int, default=30, show_default=True, help="CPU seconds.")
@click.option("--memory", default="1G", show_default=True, help="Memory limit (e.g. 512M).")
@click.option("--file-size", default="256M", show_default=True, help="Largest file it may write.")
@click.option("--processes", type=int, default=64, show_default=True, help="Process limit.")
@click.option("--cpu-share", type=float, help="CPUs' worth of time, e.g. 0.5 (cgroups).")
@click.option(
    "--net",
    type=click.Choice(["none", "loopback", "allow-list"]),
    default="none",
    show_default=True,
    help="none: no network; loopback: a private loopback only; allow-list: --allow ports.",
)
@click.option("--allow", multiple=True, metavar="HOST:PORT", help="With --net allow-list.")
@click.option(
    "--write",
    "write_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Copy files the run writes into this workspace directory (after a Hunter scan).",
)
@click.option("--python", "python", help="Python interpreter for --lang python.")
@click.option("--level", type=click.IntRange(1, len(LAYERS)), help="Use only the first N layers.")
@click.option("--no-fork", is_flag=True, help="Refuse fork/clone of new processes (seccomp).")
@click.argument("code_or_file")
@grace_command
def run_command(
    lang: str,
    timeout: float,
    cpu: int,
    memory: str,
    file_size: str,
    processes: int,
    cpu_share: float | None,
    net: str,
    allow: tuple[str, ...],
    write_dir: Path | None,
    python: str | None,
    level: int | None,
    no_fork: bool,
    code_or_file: str,
) -> Result:
    """Run CODE_OR_FILE (inline code, a file, or - for stdin) in the sandbox.

    The code is scanned by Hunter and governed (`sandbox.run`, with the level
    this run gets); it runs in a private directory as an unprivileged user,
    with the workspace readable and .grace hidden; files it writes are copied
    back only with --write, after a Hunter scan and a `file.write` decision.
    One signed ledger record describes the run.  Exit 0 when the code exited
    0, 5 when it failed or was stopped, 3 when policy refused it.

    \b
    grace sandbox run -- 'print(1 + 1)'
    grace sandbox run --lang bash --timeout 5 script.sh
    grace sandbox run --memory 256M --write results analysis.py
    """
    code, label = _read_code(code_or_file)
    limits = Limits(
        timeout=timeout,
        cpu_seconds=cpu,
        memory_bytes=parse_size(memory),
        file_size_bytes=parse_size(file_size),
        processes=processes,
        cpu_share=cpu_share,
    )
    with _open() as ws:
        target = None
        if write_dir is not None:
            target = write_dir if write_dir.is_absolute() else Path.cwd() / write_dir
        request = SandboxRequest(
            code=code,
            lang=lang,
            source=label,
            limits=limits,
            net=net,  # type: ignore[arg-type]  # click.Choice checked it
            allow=allow,
            write_dir=target,
            python=python,
            level=level,
            no_fork=no_fork,
        )
        done = run_governed(ws, request, principal=Principal.user(current_user()))
    result = done.result
    if not json_mode():
        click.echo(result.stdout, nl=False)
        click.echo(result.stderr, nl=False, err=True)
        click.echo(_run_text(done), err=True)
    return done.to_json(), "", 0 if result.ok else EXIT_RUN_FAILED
