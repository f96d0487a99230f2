"""``%grace`` and ``%%grace``: Grace from inside a notebook.

Everything here reads; nothing approves.  Approving from inside a kernel is
impossible by design (the kernel acts for the person who would approve), so
``%grace approvals`` lists and points to the command to run elsewhere.  The one
thing that runs is ``%%grace sandbox``, and not in this process: it hands the
cell to ``grace sandbox run`` (the runtime guard lets exactly that command
through), which governs it, isolates it and signs the record.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class

from grace_kernel.errors import GraceError
from grace_kernel.health import Incident, heal_lines
from grace_kernel.hunter import Finding
from grace_kernel.kernel._reader import WorkspaceReader
from grace_kernel.kernel._session import KernelSession

__all__ = ["HELP", "GraceMagics"]

HELP = """\
%grace status                 trust mode, workspace, ledger, policies, guard, health
%grace heal [COMPONENT]       check Grace's components now, restart what failed (--dry-run)
%grace scan [PATH]            Hunter findings for a file (or, as %%grace scan, this cell)
%grace scan --notebook PATH   findings in every cell of a notebook
%%grace policy                what would be decided for this cell, and why (nothing runs)
%grace policy                 the decision for the last cell
%grace explain                why the last cell was blocked: policies, findings, fixes
%grace verify                 verify the whole ledger (signatures, chain, checkpoints)
%grace verify --notebook PATH check each cell of a saved notebook against signed records
%grace ledger tail [N]        the last N records (default 10)
%grace alerts [--all]         open alerts (or all)
%grace approvals              pending approval requests (approve them outside the kernel)
%grace ask QUERY [-k N]       top passages from approved knowledge, with sources (no generated text)
%%grace sandbox [options]     run this cell in the OS-level sandbox (grace sandbox run)
%grace help                   this text
"""


@dataclasses.dataclass(frozen=True, slots=True)
class _Request:
    """One magic call: the words after the subcommand, and the cell body for ``%%grace``."""

    args: list[str]
    cell: str | None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # raise, never exit
        raise GraceError(f"%grace: {message}", hint="`%grace help` lists the subcommands")


def _no_arguments(req: _Request, name: str) -> None:
    if req.args:
        raise GraceError(f"%grace {name} takes no arguments (got {' '.join(req.args)})")


def _findings_text(findings: list[Finding] | tuple[Finding, ...]) -> str:
    if not findings:
        return "no findings"
    lines = []
    for f in findings:
        where = f"cell {f.cell} " if f.cell is not None else ""
        lines.append(
            f"  {where}line {f.line}: {f.rule_id} [{f.effective_severity.name.lower()}] {f.message}"
        )
        if f.fix is not None:
            lines.append(f"      fix: {f.fix.description}")
        elif f.rule.fix:
            lines.append(f"      fix: {f.rule.fix}")
    return "\n".join(lines)


@magics_class
class GraceMagics(Magics):
    def __init__(self, shell: InteractiveShell, session: KernelSession) -> None:
        super().__init__(shell)
        self.session = session
        self._commands: dict[str, Callable[[_Request], str]] = {
            "help": lambda _: HELP,
            "status": self._status,
            "scan": self._scan,
            "policy": self._policy,
            "explain": self._explain,
            "verify": self._verify,
            "ledger": self._ledger,
            "alerts": self._alerts,
            "approvals": self._approvals,
            "sandbox": self._sandbox,
            "heal": self._heal,
            "ask": self._ask,
        }

    @line_cell_magic
    def grace(self, line: str, cell: str | None = None) -> None:
        """Grace's magics; ``%grace help`` lists them."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            print(f"%grace: {exc}")
            return
        name = words[0] if words else "help"
        command = self._commands.get(name)
        if command is None:
            print(f"%grace: unknown subcommand {name!r}\n\n{HELP}")
            return
        try:
            print(command(_Request(words[1:], cell)))
        except GraceError as exc:
            print(exc.diagnostics())

    # ------------------------------------------------------------------ subcommands

    def _reader(self) -> WorkspaceReader:
        if self.session.sandbox is not None:
            raise GraceError(
                "this kernel runs in the OS sandbox, where the workspace's database (ledger, "
                "approvals, alerts) is out of reach by design",
                hint="run `grace ledger`, `grace verify`, `grace approvals` or `grace alerts` "
                "in a terminal, or use the Grace panels in JupyterLab",
            )
        return WorkspaceReader(self.session.settings)

    def _status(self, req: _Request) -> str:
        _no_arguments(req, "status")
        s = self.session
        active = s.engine.active
        trust = {
            "in-kernel": "in-kernel: this kernel decides and signs itself (weaker: code in it "
            "could reach the key; use JupyterLab with Grace or `grace run`)",
            "runner": "runner: a `grace run` / papermill process decides and signs; "
            "this kernel only checks again",
            "server": "server: the Jupyter server decides and signs; this kernel only checks again",
        }[s.trust]
        guard = "armed" if s.guard is not None else "NOT armed"
        policies = (
            f"policies:  {len(active.policies) if active else 0} "
            f"({active.fingerprint[:12] if active else 'NONE: every cell is refused'})"
        )
        guarded = f"guard:     {guard}, {len(s.blocks)} operation(s) blocked in this kernel"
        if s.sandbox is not None:
            layers = ", ".join(s.sandbox) or "none"
            return "\n".join(
                [
                    f"trust:     {trust}",
                    f"sandbox:   OS-level, layers {layers}; no network, read-only workspace",
                    f"workspace: {s.settings.home} (its database is out of reach in the sandbox)",
                    f"mode:      {s.mode()}",
                    policies,
                    guarded,
                ]
            )
        reader = self._reader()
        info = reader.summary()
        floor = f" (floor set: {info['manual']})" if info["manual"] != "normal" else ""
        return "\n".join(
            [
                f"trust:     {trust}",
                f"workspace: {info['workspace']}",
                f"mode:      {info['mode']}{floor}",
                f"ledger:    {info['records']} records, latest checkpoint at "
                f"{info['latest_checkpoint']}",
                policies,
                f"approvals: {info['pending_approvals']} pending",
                f"alerts:    {info['open_alerts']} open",
                guarded,
                *_incident_lines(reader.incidents(5)),
            ]
        )

    def _scan(self, req: _Request) -> str:
        parser = _Parser(prog="%grace scan", add_help=False)
        parser.add_argument("path", nargs="?")
        parser.add_argument("--notebook")
        opts = parser.parse_args(req.args)
        scanner = self.session.scanner
        if opts.notebook:
            found = scanner.scan_notebook_cells(Path(opts.notebook))
            return f"{opts.notebook}: " + _findings_text(found)
        if opts.path:
            result = scanner.scan_file(Path(opts.path))
            notes = "".join(f"\n  note: {n}" for n in result.notes)
            return f"{opts.path}: " + _findings_text(result.findings) + notes
        if req.cell is None:
            raise GraceError("%grace scan needs a PATH, --notebook PATH, or a cell (%%grace scan)")
        return _findings_text(scanner.scan_code(req.cell, kind="cell"))

    def _policy(self, req: _Request) -> str:
        s = self.session
        if req.cell is not None:
            check = s.check(req.cell) if s.workspace is None else None
            if check is None:  # in-kernel mode would record a decision; explain instead
                from grace_kernel.runs._records import cell_action

                prepared = cell_action(
                    req.cell, principal=s.principal, scanner=s.scanner, location=s.location()
                )
                decision = s.engine.decide(prepared.action, mode=s.mode())
                return decision.explain() + "\n" + _findings_text(prepared.findings)
            return check.decision.explain() + "\n" + _findings_text(check.findings)
        if s.last is None:
            return "no cell has been checked yet in this kernel"
        return s.last.decision.explain() + "\n" + _findings_text(s.last.findings)

    def _explain(self, req: _Request) -> str:
        _no_arguments(req, "explain")
        s = self.session
        parts = []
        if s.last_blocked is not None:
            b = s.last_blocked
            parts.append(f"last blocked cell ({b.label}):\n{b.message()}")
            parts.append(b.decision.explain())
            parts.append(_findings_text(b.findings))
        if s.blocks:
            parts.append("operations the runtime guard blocked (latest last):")
            for block in list(s.blocks)[-10:]:
                parts.append(f"  {block.event} {block.target}: {block.reason} [{block.policy_id}]")
        return "\n".join(parts) or "nothing has been blocked in this kernel"

    def _verify(self, req: _Request) -> str:
        parser = _Parser(prog="%grace verify", add_help=False)
        parser.add_argument("--notebook")
        opts = parser.parse_args(req.args)
        reader = self._reader()
        report = reader.verify()
        if opts.notebook:
            # nbformat is slow to import; only this subcommand needs it.
            from grace_kernel.runs._provenance import read_notebook, verify_cells

            nb = read_notebook(Path(opts.notebook))
            checked = verify_cells(
                nb,
                reader.envelopes() if report.ok else iter(()),
                notebook=opts.notebook,
                ledger_ok=report.ok,
                ledger_problem=report.problem,
                genesis_keyid=report.genesis_keyid,
            )
            return checked.text()
        if report.ok:
            return f"OK: {report.size} records verified; {report.checkpoints_checked} checkpoint(s)"
        return f"FAILED (first bad index {report.first_bad_index}): {report.problem}"

    def _ledger(self, req: _Request) -> str:
        if not req.args or req.args[0] != "tail":
            raise GraceError("usage: %grace ledger tail [N]")
        try:
            count = int(req.args[1]) if len(req.args) > 1 else 10
        except ValueError:
            raise GraceError(f"%grace ledger tail: {req.args[1]!r} is not a number") from None
        if not 1 <= count <= 1000:
            raise GraceError("%grace ledger tail: N must be between 1 and 1000")
        rows = self._reader().tail(count)
        return "\n".join(
            f"{r['index']:>7}  {r.get('type', '?'):<22} {', '.join(r.get('subjects', []))}"
            for r in rows
        )

    def _alerts(self, req: _Request) -> str:
        alerts = self._reader().alerts(state=None if "--all" in req.args else "open")
        if not alerts:
            return "no alerts"
        return "\n".join(
            f"{a.id}  {a.severity:<8} {a.state:<10} {a.rule_id}  {a.title}  ({a.location})"
            for a in alerts[:50]
        )

    def _approvals(self, req: _Request) -> str:
        _no_arguments(req, "approvals")
        pending = self._reader().approvals(state="pending")
        lines = [
            f"{r.id}  {r.action.get('kind', '?')} on {r.action.get('resource', '?')}  "
            f"requested by {r.requester}"
            for r in pending
        ]
        lines.append(
            "approving from inside a kernel is impossible by design: another person runs "
            "`grace approvals approve ID` (or uses the Approvals panel)"
        )
        return "\n".join(lines) if pending else "no pending approvals\n" + lines[-1]

    def _sandbox(self, req: _Request) -> str:
        if self.session.sandbox is not None:
            raise GraceError(
                "this whole kernel already runs in the OS sandbox, so %%grace sandbox is "
                "unavailable here: run the cell's code directly",
            )
        if req.cell is None:
            raise GraceError(
                "%grace sandbox is a cell magic: start the cell with %%grace sandbox",
                hint="%%grace sandbox [--lang python|bash|node] [--timeout S] [--memory M] "
                "[--net none|loopback] [--write DIR]",
            )
        parser = _Parser(prog="%%grace sandbox", add_help=False)
        parser.add_argument("--lang", default="python", choices=("python", "bash", "node"))
        for flag in ("--timeout", "--cpu", "--memory", "--file-size", "--processes", "--net"):
            parser.add_argument(flag)
        parser.add_argument("--write")
        opts = parser.parse_args(req.args)
        argv = [sys.executable, "-I", "-m", "grace_kernel.cli", "sandbox", "run", "--json"]
        for name, value in vars(opts).items():
            if value is not None:
                argv += [f"--{name.replace('_', '-')}", str(value)]
        return _sandbox_output(self._run_sandbox([*argv, "-"], req.cell))

    def _run_sandbox(self, argv: list[str], code: str) -> dict[str, Any]:
        """Hand the cell to ``grace sandbox run`` (a separate, trusted process) and wait."""
        return self._run_cli(argv, code.encode(), "sandbox runner")

    def _run_cli(self, argv: list[str], stdin: bytes, what: str) -> dict[str, Any]:
        """Run one of Grace's own commands (the guard lets exactly these through); its JSON."""
        try:
            done = subprocess.run(
                argv,
                executable=sys.executable,
                input=stdin,
                capture_output=True,
                cwd=self.session.root,
                check=False,
            )
        except OSError as exc:
            raise GraceError(f"cannot start Grace's {what}: {exc}") from None
        try:
            doc: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            tail = done.stderr.decode(errors="replace").strip()[-500:]
            status = done.returncode
            raise GraceError(f"the {what} failed (exit {status}): {tail}") from None
        return doc

    def _ask(self, req: _Request) -> str:
        """Search approved knowledge over a read-only connection; passages, never an answer."""
        from grace_kernel.knowledge import search_readonly

        parser = _Parser(prog="%grace ask", add_help=False)
        parser.add_argument("-k", type=int, default=3)
        parser.add_argument("query", nargs="+")
        opts = parser.parse_args(req.args)
        self._reader()  # the same refusals: no workspace, or a sandboxed kernel
        hits = search_readonly(self.session.settings.db_path, " ".join(opts.query), k=opts.k)
        if not hits:
            return "no approved passage matches (`grace knowledge list` shows what is stored)"
        out = []
        for rank, hit in enumerate(hits, 1):
            where = hit.source + (f" > {hit.heading}" if hit.heading else "")
            out.append(
                f"{rank}. {where}  (trust {hit.trust:.2f}; record: grace ledger show "
                f"{hit.ledger_index})\n"
                + "\n".join(f"   | {t}" for t in hit.text.splitlines()[:12])
            )
        return "\n\n".join(out)

    def _heal(self, req: _Request) -> str:
        """``grace heal`` in a separate process: it holds the key this kernel must not."""
        if self.session.sandbox is not None:
            raise GraceError(
                "this kernel runs in the OS sandbox, where Grace's components are out of reach",
                hint="run `grace heal` in a terminal",
            )
        parser = _Parser(prog="%grace heal", add_help=False)
        parser.add_argument("component", nargs="?")
        parser.add_argument("--dry-run", action="store_true")
        opts = parser.parse_args(req.args)
        argv = [sys.executable, "-I", "-m", "grace_kernel.cli", "heal", "--json"]
        argv += ["--dry-run"] if opts.dry_run else []
        argv += [opts.component] if opts.component else []
        doc = self._run_cli(argv, b"", "healer")
        if doc.get("ok") is False and "error" in doc:
            error = doc["error"]
            hint = f"\n  hint: {error['hint']}" if error.get("hint") else ""
            return f"%grace heal: {error['message']}{hint}"
        return "\n".join(heal_lines(doc))


def _incident_lines(incidents: list[Incident]) -> list[str]:
    lines = [f"incidents: {len(incidents)} recent" + (":" if incidents else "")]
    for i in incidents:
        state = "open" if i.open else "healed"
        lines.append(f"  {i.id} root {i.root} ({state}, {i.mode_after}): {i.cause}")
    return lines


def _sandbox_output(doc: dict[str, Any]) -> str:
    """The run's output and a short account of how it ran."""
    if doc.get("ok") is False and "error" in doc:
        error = doc["error"]
        hint = f"\n  hint: {error['hint']}" if error.get("hint") else ""
        return f"sandbox: the cell was NOT run: {error['message']}{hint}"
    if doc["stderr"]:
        print(doc["stderr"], end="", file=sys.stderr)
    usage = doc["usage"]
    if doc["timed_out"]:
        ended = "timed out"
    elif doc["signal"]:
        ended = f"killed by {doc['signal']}"
    else:
        ended = f"exit {doc['exit_code']}"
    lines = [
        doc["stdout"].rstrip("\n"),
        f"[sandbox: {ended}, level {doc['level']} ({', '.join(doc['layers'])}), "
        f"{usage['wall_s']:.2f} s wall, {usage['cpu_user_s'] + usage['cpu_sys_s']:.2f} s cpu, "
        f"{usage['max_rss_kib'] / 1024:.0f} MiB max rss, ledger record {doc['ledger_index']}]",
    ]
    lines += [f"[stopped by {reason}]" for reason in doc["stopped_by"]]
    for f in doc["files"]:
        where = f"copied to {f['copied_to']}" if f["copied_to"] else f["held"]
        lines.append(f"[wrote {f['path']}: {where}]")
    return "\n".join(line for line in lines if line)
