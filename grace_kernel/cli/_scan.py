"""``grace scan``: Hunter from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from grace_kernel.errors import GraceError, InputError

from ._output import Result, grace_command, json_mode, settings_from_env

if TYPE_CHECKING:
    from grace_kernel.hunter import Finding, ScanCache
    from grace_kernel.quarantine import QuarantineEntry

_LEVELS = ["low", "medium", "high", "critical"]


@contextmanager
def _cache(enabled: bool) -> Iterator[ScanCache | None]:
    """The workspace's scan cache, when there is a workspace and caching is on."""
    from grace_kernel.hunter import ScanCache

    settings = settings_from_env()
    if not enabled or not settings.home.is_dir():
        yield None
        return
    cache = ScanCache(settings.home / "hunter-cache.db")
    try:
        yield cache
    finally:
        cache.close()


def _line(finding: Finding) -> str:
    where = f"{finding.file}:{finding.line}"
    if finding.cell is not None:
        where = f"{finding.file} cell {finding.cell} line {finding.line}"
    fix = "  [fix available]" if finding.fix else ""
    return (
        f"{finding.effective_severity.name.lower():<9}{finding.rule.id:<13}{where}\n"
        f"         {finding.message}{fix}\n         > {finding.snippet.splitlines()[0][:120]}"
    )


def _critical_by_file(findings: list[Finding], *, skip_fixed: bool) -> dict[str, list[Finding]]:
    """The findings of each file that has a critical one (those just fixed do not count)."""
    from grace_kernel.governance import Severity

    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.file and not (skip_fixed and finding.fix):
            by_file.setdefault(finding.file, []).append(finding)
    return {
        name: found
        for name, found in by_file.items()
        if any(f.effective_severity >= Severity.CRITICAL for f in found)
    }


def _auto_quarantine(critical: dict[str, list[Finding]], notes: list[str]) -> list[QuarantineEntry]:
    """Offer each file with a critical finding to Hunter's quarantine; policy decides (opt-in).

    Needs a workspace; a file that cannot be quarantined is noted, not fatal.
    """
    settings = settings_from_env()
    if not critical or not settings.home.is_dir():
        return []
    from grace_kernel.quarantine import quarantine_critical
    from grace_kernel.workspace import Workspace

    entries = []
    with Workspace.open(settings, create=False) as ws:
        for name, found in sorted(critical.items()):
            try:
                entry = quarantine_critical(ws, Path.cwd() / name, found)
            except GraceError as exc:
                notes.append(f"{name}: not quarantined: {exc.message}")
                continue
            if entry is not None:
                entries.append(entry)
    return entries


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sarif", is_flag=True, help="Print SARIF 2.1.0 (for code hosts) instead of text.")
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="Ignore findings recorded in this baseline file; writes it if it does not exist.",
)
@click.option("--fix", "do_fix", is_flag=True, help="Apply available fixes (backups in .grace).")
@click.option("--diff", "show_diff", is_flag=True, help="Show the fixes as a diff; change nothing.")
@click.option(
    "--min-severity",
    type=click.Choice(_LEVELS),
    default="low",
    show_default=True,
    help="Report (and fail on) findings at or above this severity.",
)
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: CPU count).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the content-hash cache.")
@grace_command
def scan(
    paths: tuple[Path, ...],
    sarif: bool,
    baseline: Path | None,
    do_fix: bool,
    show_diff: bool,
    min_severity: str,
    jobs: int | None,
    no_cache: bool,
) -> Result:
    """Scan PATHS (files, notebooks, directories) for security problems.

    Directories are walked respecting .gitignore.  Exit 1 when findings at or
    above --min-severity remain (after the baseline), 0 otherwise.
    """
    # Hunter loads its rule packs on import: only `grace scan` pays for that.
    from grace_kernel.hunter import (
        Scanner,
        Severity,
        apply_fixes,
        default_jobs,
        fix_diff,
        load_baseline,
        scan_paths,
        to_sarif,
        write_baseline,
    )

    if sarif and json_mode():
        raise InputError("--sarif and --json are two output formats: choose one")
    if do_fix and show_diff:
        raise InputError("--fix changes files and --diff only shows: choose one")
    threshold = Severity[min_severity.upper()]
    scanner = Scanner()
    with _cache(not no_cache) as cache:
        progress_bar = None
        if sys.stderr.isatty() and not json_mode() and not sarif:
            progress_bar = click.progressbar(length=1, label="scanning", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            if progress_bar is not None:
                progress_bar.length = max(total, 1)
                progress_bar.update(done - progress_bar.pos)

        result = scan_paths(
            list(paths),
            scanner=scanner,
            jobs=jobs or default_jobs(),
            cache=cache,
            progress=progress,
        )
        if progress_bar is not None:
            progress_bar.render_finish()
    findings = [f for f in result.findings if f.effective_severity >= threshold]
    baselined = 0
    if baseline is not None:
        if baseline.exists():
            known = load_baseline(baseline)
            kept = [f for f in findings if f.fingerprint not in known]
            baselined = len(findings) - len(kept)
            findings = kept
        else:
            count = write_baseline(baseline, findings)
            result.notes.append(f"wrote baseline {baseline} with {count} fingerprint(s)")
            baselined, findings = len(findings), []
    changes: list[str] = []
    if do_fix or show_diff:
        by_file: dict[str, list[Finding]] = {}
        for finding in findings:
            if finding.fix and finding.file:
                by_file.setdefault(finding.file, []).append(finding)
        settings = settings_from_env()
        for name, fixes in sorted(by_file.items()):
            target = Path(name)
            if show_diff:
                changes.append(fix_diff(target, fixes))
            else:
                backup = apply_fixes(target, fixes, backup_dir=settings.home / "backups")
                if backup is not None:
                    changes.append(
                        f"fixed {name} ({len(fixes)} fix(es)); original saved as {backup}"
                    )
    quarantined = []
    if not show_diff:
        critical = _critical_by_file(findings, skip_fixed=do_fix)
        quarantined = _auto_quarantine(critical, result.notes)
    failing = bool(findings)
    data = {
        "ok": not failing,
        "files": result.files,
        "lines": result.lines,
        "findings": [f.to_json() for f in findings],
        "baselined": baselined,
        "notes": result.notes,
        "changes": changes,
        "quarantined": [e.to_json() for e in quarantined],
    }
    if sarif:
        click.echo(json.dumps(to_sarif(findings, scanner.registry), indent=2))
        return data, "", 1 if failing else 0
    summary = f"{len(findings)} finding(s) at or above {min_severity} in {result.files} file(s)" + (
        f"; {baselined} in the baseline" if baselined else ""
    )
    moved = [f"quarantined {e.path} as {e.id} ({e.why})" for e in quarantined]
    text = "\n".join([*(_line(f) for f in findings), *changes, *moved, *result.notes, summary])
    return data, text, 1 if failing else 0
