"""Scanning code, files, notebooks and text with one registry.

:class:`Scanner` is the engine; :func:`default_registry` builds the shipped
rule packs plus any installed through the ``grace.hunter_rules`` entry point.
Every scan is total: a file Hunter cannot parse is still scanned by its pattern
and secret rules, and a file it cannot read or should not read (binary, too
large) is reported in ``notes``, never raised as an exception mid-walk.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from grace_kernel.errors import InputError
from grace_kernel.hunter._model import Finding
from grace_kernel.hunter._notebook import read_notebook, transform_cell
from grace_kernel.hunter._pyscan import PyContext, scan_tree, suppressed_rules
from grace_kernel.hunter._registry import RuleRegistry
from grace_kernel.hunter._rules_python import register_python_rules
from grace_kernel.hunter._secrets import SecretHit, SecretScanner
from grace_kernel.hunter._text import scan_output, scan_text, secret_findings

__all__ = ["MAX_PARSE_BYTES", "ScanResult", "Scanner", "default_registry", "pack_dir"]

MAX_PARSE_BYTES = 5 * 1024 * 1024  # larger files get the linear-time rules only
MAX_READ_BYTES = 64 * 1024 * 1024
_CODE_PATTERN_CATEGORIES = frozenset({"notebook", "dangerous-call", "injection", "obfuscation"})
_TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".xml"})
_PARAMETER_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", re.MULTILINE)


def pack_dir() -> Path:
    """The shipped rule packs: in the wheel, or ``data/hunter`` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / "hunter", here.parent / "data" / "hunter"):
        if candidate.is_dir():
            return candidate
    raise InputError("Hunter's rule packs are missing from this installation")


def default_registry(*, entry_points: bool = True) -> RuleRegistry:
    """The shipped rule packs and Python checks, plus installed plugin packs."""
    registry = RuleRegistry()
    for pack in sorted(pack_dir().glob("*.yaml")):
        registry.load_pack(pack)
    register_python_rules(registry)
    if entry_points:
        registry.load_entry_points()
    registry.check_complete()
    return registry


@dataclasses.dataclass
class ScanResult:
    findings: list[Finding] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    files: int = 0
    lines: int = 0


_STRING_LITERAL = re.compile(r"""(?P<q>['"])(?P<body>[^'"\n]{5,})(?P=q)""")
_ENV_VALUE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*\s*[= ]\s*)(?P<body>[^'\"\s)]{5,})")


def _mask_value(value: str) -> str:
    return f"{value[:4]}…({len(value)} chars)"


def _masked(findings: list[Finding], hits: Iterable[SecretHit]) -> list[Finding]:
    """No finding may carry a secret: mask every detected value, and string literals
    (or ``NAME=value`` settings) in findings that are themselves about secrets."""
    values = sorted({h.value for h in hits}, key=len, reverse=True)
    out = []
    for finding in findings:
        snippet, message = finding.snippet, finding.message
        for value in values:
            snippet = snippet.replace(value, _mask_value(value))
            message = message.replace(value, _mask_value(value))
        if finding.rule.category == "secrets" or "secret" in finding.rule.title.lower():
            snippet = _STRING_LITERAL.sub(
                lambda m: m["q"] + _mask_value(m["body"]) + m["q"], snippet
            )
            if "env" in finding.rule.title.lower():
                snippet = _ENV_VALUE.sub(lambda m: m["name"] + _mask_value(m["body"]), snippet)
        if (snippet, message) != (finding.snippet, finding.message):
            finding = dataclasses.replace(finding, snippet=snippet, message=message)
        out.append(finding)
    return out


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, int | None, int, str]] = set()
    out = []
    for finding in findings:
        key = (finding.rule.id, finding.cell, finding.line, finding.where)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    out.sort(key=lambda f: (f.cell or 0, f.line, f.column, f.rule.id))
    return out


class Scanner:
    """Runs a registry's rules over code, notebooks, text and files."""

    def __init__(self, registry: RuleRegistry | None = None) -> None:
        self.registry = registry or default_registry()
        self.secrets = SecretScanner(self.registry.secrets)
        self.ruleset = hashlib.sha256("\n".join(sorted(self.registry.rules)).encode()).hexdigest()[
            :16
        ]

    # ------------------------------------------------------------------ code

    def scan_code(
        self,
        source: str,
        *,
        kind: str = "cell",
        file: str | None = None,
        cell: int | None = None,
        tainted: Iterable[str] = (),
    ) -> list[Finding]:
        """Findings for one piece of Python (``kind="cell"`` applies IPython's rewriting)."""
        if kind not in {"cell", "file", "text"}:
            raise InputError(f"kind must be cell, file or text, not {kind!r}")
        if kind == "text":
            found: list[Finding] = scan_text(
                source,
                self.registry,
                self.secrets,
                file=file,
                code_scanner=self._embedded_code,
            )
            return found
        small = len(source) <= MAX_PARSE_BYTES
        tree = self._parse(source) if small else None
        code = source
        if kind == "cell" and tree is None:
            # Only a cell that is not plain Python can hold IPython syntax (magics,
            # !commands, help?); rewriting a plain one would just cost a tokenize pass.
            code = transform_cell(source)
            tree = self._parse(code) if len(code) <= MAX_PARSE_BYTES else None
        findings: list[Finding] = []
        if tree is not None:
            ctx = PyContext(tree, code, tainted=tainted)
            findings.extend(scan_tree(ctx, self.registry, file=file, cell=cell))
        findings.extend(self._patterns(source, file=file, cell=cell, parsed=tree is not None))
        hits = self.secrets.scan(source, path=file)  # once: for secret findings and masking
        found = self._secret_findings(source, hits, file=file, cell=cell, where="code")
        return _dedupe(_masked(findings, hits) + found)

    @staticmethod
    def _parse(code: str) -> ast.Module | None:
        try:
            return ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    def _embedded_code(self, code: str, first_line: int) -> list[Finding]:
        """Findings in a code block of a document, in the document's line numbers."""
        shift = first_line - 1
        out = []
        for f in self.scan_code(code, kind="cell"):
            fix = f.fix and dataclasses.replace(
                f.fix, start_line=f.fix.start_line + shift, end_line=f.fix.end_line + shift
            )
            end = None if f.end_line is None else f.end_line + shift
            out.append(
                dataclasses.replace(f, line=f.line + shift, end_line=end, fix=fix, where="text")
            )
        return out

    def _patterns(
        self, source: str, *, file: str | None, cell: int | None, parsed: bool
    ) -> list[Finding]:
        """Line rules: always for notebook syntax, and for everything when parsing failed."""
        rules = [
            r
            for r in self.registry.patterns
            if r.meta.category in _CODE_PATTERN_CATEGORIES
            and (not parsed or r.meta.category == "notebook")
        ]
        if not rules:
            return []
        lines = source.splitlines()
        out = []
        for number, text in enumerate(lines, 1):
            for rule in rules:
                match = rule.regex.search(text)
                if match and rule.meta.id not in suppressed_rules(lines, number, number):
                    out.append(
                        Finding(
                            rule=rule.meta,
                            line=number,
                            column=match.start(),
                            snippet=text.strip()[:500],
                            message=rule.meta.title,
                            file=file,
                            cell=cell,
                        )
                    )
        return out

    @staticmethod
    def _secret_findings(
        text: str, hits: list[SecretHit], *, file: str | None, cell: int | None, where: str
    ) -> list[Finding]:
        """Secret findings in code, minus those silenced by ``# grace: ignore[...]``."""
        lines = text.splitlines()
        return [
            f
            for f in secret_findings(text, hits, file=file, cell=cell, where=where)
            if f.rule.id not in suppressed_rules(lines, f.line, f.line)
        ]

    # ------------------------------------------------------------------ notebooks

    def scan_notebook_cells(
        self, path: Path, data: bytes | None = None, *, name: str | None = None
    ) -> list[Finding]:
        """Code cells (IPython-rewritten), their outputs, and markdown cells."""
        label = name or str(path)
        findings: list[Finding] = []
        tainted: set[str] = set()
        for cell in read_notebook(path, data):
            if cell.cell_type == "code":
                findings.extend(
                    self.scan_code(
                        cell.source, kind="cell", file=label, cell=cell.index, tainted=tainted
                    )
                )
                if "parameters" in cell.tags or "injected-parameters" in cell.tags:
                    tainted.update(_PARAMETER_NAME.findall(cell.source))
                for output in cell.outputs:
                    findings.extend(
                        scan_output(
                            output, self.registry, self.secrets, file=label, cell=cell.index
                        )
                    )
            elif cell.cell_type in {"markdown", "raw"}:
                findings.extend(
                    dataclasses.replace(f, cell=cell.index)
                    for f in scan_text(cell.source, self.registry, self.secrets, file=label)
                )
        return _dedupe(findings)

    # ------------------------------------------------------------------ files

    def scan_bytes(self, data: bytes, *, name: str, suffix: str) -> ScanResult:
        """Scan one file's content; binary, undecodable and oversized input become notes."""
        result = ScanResult(files=1)
        if b"\0" in data[:8192]:
            result.notes.append(f"{name}: binary file, skipped")
            return result
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", errors="replace")
            result.notes.append(
                f"{name}: not valid UTF-8 (byte {exc.start}); scanned with replacement characters"
            )
        result.lines = text.count("\n") + 1
        if suffix == ".ipynb":
            try:
                result.findings = self.scan_notebook_cells(Path(name), data, name=name)
            except InputError as exc:
                result.notes.append(f"{exc.message}; scanned as text instead")
                result.findings = scan_text(text, self.registry, self.secrets, file=name)
            return result
        if suffix in _TEXT_SUFFIXES:
            result.findings = scan_text(
                text, self.registry, self.secrets, file=name, code_scanner=self._embedded_code
            )
            return result
        if suffix in {".py", ".pyw", ".pyi"}:
            if len(data) > MAX_PARSE_BYTES:
                result.notes.append(
                    f"{name}: {len(data) // (1 << 20)} MiB, too large to parse; "
                    "secrets and line rules only"
                )
            result.findings = self.scan_code(text, kind="file", file=name)
            return result
        hits = self.secrets.scan(text, path=name)
        result.findings = _dedupe(
            self._secret_findings(text, hits, file=name, cell=None, where="text")
        )
        return result

    def scan_file(self, path: Path, *, name: str | None = None) -> ScanResult:
        label = name or str(path)
        try:
            size = path.stat().st_size
            if size > MAX_READ_BYTES:
                return ScanResult(
                    files=1, notes=[f"{label}: {size // (1 << 20)} MiB, larger than Hunter reads"]
                )
            data = path.read_bytes()
        except OSError as exc:
            return ScanResult(files=1, notes=[f"{label}: cannot read ({exc.strerror})"])
        return self.scan_bytes(data, name=label, suffix=path.suffix.lower())
