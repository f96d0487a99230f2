"""Documents, web pages and notebook outputs: secrets, prompt and script injection.

:func:`scan_text` scans a document (markdown, HTML, plain text, a markdown
cell) for secrets, the ``prompt-injection`` and ``script-injection`` pattern
rules, and hands fenced code blocks (python, and bash/sh wrapped as IPython
``!`` shell lines) to a code scanner.  :func:`scan_output` scans one nbformat
output: stream text, ``execute_result`` / ``display_data`` bundles and error
tracebacks, plus the ``output`` rules (JavaScript outputs, widget views,
terminal escapes).  A secret printed in an output is reported under its own
``GRC-SEC`` rule with ``where="output"`` (or under ``GRC-TXT-040`` if a pack
defines it).

Findings never carry a raw secret: every snippet has the secrets of its line
replaced by their masked form.  Text from documents and outputs is untrusted,
so ``grace: ignore[...]`` comments are not honoured here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from grace_kernel.hunter._model import Finding, RuleMeta
from grace_kernel.hunter._registry import PatternRule, RuleRegistry
from grace_kernel.hunter._secrets import SecretHit, SecretScanner

__all__ = ["CodeScanner", "fenced_blocks", "scan_output", "scan_text", "secret_findings"]

CodeScanner = Callable[[str, int], list[Finding]]
"""``code_scanner(code, first_line)``: findings for a code block whose first line is document
line ``first_line``, numbered in the document already."""

TEXT_CATEGORIES = frozenset({"prompt-injection", "script-injection"})
# A pack may define this output-category rule to report printed secrets under it (severity
# still the secret's); the shipped packs do not, so a printed secret keeps its GRC-SEC rule.
SECRET_OUTPUT_RULE = "GRC-TXT-040"  # noqa: S105  # a rule id, not a password
JAVASCRIPT_OUTPUT_RULE = "GRC-TXT-041"
WIDGET_OUTPUT_RULE = "GRC-TXT-042"

_SNIPPET_WIDTH = 240
_PYTHON_LANGS = frozenset({"python", "py", "python3", "py3", "ipython", "ipython3", "pycon"})
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh", "console", "shell-session", "shellsession"})
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*$")
_ANSI_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HTML_MIMES = frozenset({"text/html", "text/markdown", "image/svg+xml", "application/xhtml+xml"})
_SKIPPED_MIMES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "application/pdf",
)
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_JS_MIMES = frozenset({"application/javascript", "text/javascript"})


# ---------------------------------------------------------------------- helpers


def _lines(text: str) -> list[str]:
    """Lines split on newlines only, as the secret scanner and pattern search count them."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _snippet(line: str, column: int, masks: Iterable[SecretHit]) -> str:
    """``line`` with its secrets masked, cut to a window around ``column``."""
    out = line
    for hit in sorted(masks, key=lambda h: h.column, reverse=True):
        out = out[: hit.column] + hit.masked + out[hit.end_column :]
    out = out.strip()
    if len(out) <= _SNIPPET_WIDTH:
        return out
    start = max(0, min(column - _SNIPPET_WIDTH // 3, len(out) - _SNIPPET_WIDTH))
    return out[start : start + _SNIPPET_WIDTH]


def _by_line(hits: Iterable[SecretHit]) -> dict[int, list[SecretHit]]:
    grouped: dict[int, list[SecretHit]] = {}
    for hit in hits:
        grouped.setdefault(hit.line, []).append(hit)
    return grouped


def _pattern_matches(text: str, rule: PatternRule) -> Iterator[tuple[int, re.Match[str]]]:
    """(1-based line, match) for every line of ``text`` that ``rule`` matches.

    A multiline compile of the pattern finds candidate lines across the whole text
    in one search (a line match is always also a whole-text match); each candidate line is
    then checked on its own, and the search resumes at the next line.
    """
    try:
        wide = re.compile(rule.regex.pattern, rule.regex.flags | re.MULTILINE)
    except re.error:  # pragma: no cover - the pattern compiled without the flag
        wide = rule.regex
    pos = 0
    line_no = 1
    counted = 0
    size = len(text)
    while pos <= size:
        found = wide.search(text, pos)
        if found is None:
            return
        start = text.rfind("\n", 0, found.start()) + 1
        if start < pos:  # the whole-text match began on a line already checked
            start = pos
        end = text.find("\n", start)
        end = size if end < 0 else end
        line_no += text.count("\n", counted, start)
        counted = start
        line = text[start:end].rstrip("\r")
        match = rule.regex.search(line)
        if match is not None:
            yield line_no, match
        pos = end + 1


def secret_findings(
    text: str,
    hits: Sequence[SecretHit],
    *,
    file: str | None,
    cell: int | None,
    where: str,
    context: str = "",
    secret_rule: RuleMeta | None = None,
    seen_values: set[str] | None = None,
) -> list[Finding]:
    """Findings for secret ``hits`` in ``text``, every secret on a line masked in its snippet.

    ``secret_rule`` reports them under another rule (at the secret's severity);
    ``seen_values`` (raw secrets already reported for another part of the same
    output) are skipped, and the ones reported here are added to it.
    """
    lines = _lines(text)
    masks = _by_line(hits)
    suffix = f" in {context}" if context else ""
    printed = " printed" if where == "output" else ""
    out: list[Finding] = []
    for hit in hits:
        if seen_values is not None:
            if hit.value in seen_values:
                continue
            seen_values.add(hit.value)
        line = lines[hit.line - 1] if hit.line <= len(lines) else ""
        if secret_rule is None:
            rule, severity = hit.rule, None
            message = f"{hit.rule.title}{printed}{suffix}: {hit.masked}"
        else:
            rule, severity = secret_rule, hit.rule.severity
            message = f"{hit.rule.title} ({hit.rule.id}) printed{suffix}: {hit.masked}"
        out.append(
            Finding(
                rule,
                line=hit.line,
                column=hit.column,
                snippet=_snippet(line, hit.column, masks.get(hit.line, ())),
                message=message,
                file=file,
                cell=cell,
                where=where,
                severity=severity,
            )
        )
    return out


def _scan_plain(
    text: str,
    registry: RuleRegistry,
    secrets: SecretScanner,
    categories: frozenset[str],
    *,
    file: str | None,
    cell: int | None,
    where: str,
    context: str = "",
    secret_rule: RuleMeta | None = None,
    seen_values: set[str] | None = None,
) -> list[Finding]:
    """Secrets and the pattern rules of ``categories`` over one text.

    ``seen_values`` (raw secrets already reported for another part of the same output) are
    skipped, and the ones found here are added to it.
    """
    hits = secrets.scan(text)
    out = secret_findings(
        text,
        hits,
        file=file,
        cell=cell,
        where=where,
        context=context,
        secret_rule=secret_rule,
        seen_values=seen_values,
    )
    lines = _lines(text)
    masks = _by_line(hits)
    suffix = f" in {context}" if context else ""
    for rule in registry.patterns:
        if rule.meta.category not in categories:
            continue
        for line_no, match in _pattern_matches(text, rule):
            line = lines[line_no - 1] if line_no <= len(lines) else ""
            out.append(
                Finding(
                    rule.meta,
                    line=line_no,
                    column=match.start(),
                    snippet=_snippet(line, match.start(), masks.get(line_no, ())),
                    message=f"{rule.meta.title}{suffix}",
                    file=file,
                    cell=cell,
                    where=where,
                )
            )
    return out


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, str]] = set()
    out = []
    for finding in sorted(findings, key=lambda f: (f.line, f.column, f.rule.id)):
        key = (finding.rule.id, finding.line, finding.message)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


# ---------------------------------------------------------------------- documents


@dataclasses.dataclass(frozen=True, slots=True)
class FencedBlock:
    language: str
    code: str
    first_line: int  # document line of the block's first code line


def _as_shell(lines: list[str], console: bool) -> str:
    """Shell lines as IPython ``!`` lines, one output line per input line."""
    out: list[str] = []
    pending: list[str] = []  # a command continued with trailing backslashes
    for raw in lines:
        line = raw.strip()
        if pending:
            pending.append(line.removesuffix("\\").strip())
            out.append("")
            if not line.endswith("\\"):
                first = len(out) - len(pending)
                out[first] = "!" + " ".join(pending)
                pending = []
            continue
        if console:
            if not line.startswith(("$ ", "# ")):
                out.append("")  # command output, not a command
                continue
            line = line[2:].strip()
        if not line or line.startswith("#"):
            out.append(line)
            continue
        if line.endswith("\\"):
            pending = [line.removesuffix("\\").strip()]
            out.append("")
            continue
        out.append("!" + line)
    if pending:
        first = len(out) - len(pending)
        out[first] = "!" + " ".join(pending)
    return "\n".join(out)


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Python and shell fenced code blocks of a markdown text (shell already wrapped)."""
    blocks: list[FencedBlock] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, language = opening.group(1), opening.group(2).lower()
        body: list[str] = []
        close = index + 1
        while close < len(lines):
            stripped = lines[close].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[close])
            close += 1
        if language in _PYTHON_LANGS:
            blocks.append(FencedBlock("python", "\n".join(body), index + 2))
        elif language in _SHELL_LANGS:
            code = _as_shell(body, console=language in {"console", "shell-session", "shellsession"})
            blocks.append(FencedBlock("shell", code, index + 2))
        index = close + 1
    return blocks


def scan_text(
    text: str,
    registry: RuleRegistry,
    secrets: SecretScanner,
    *,
    file: str | None = None,
    code_scanner: CodeScanner | None = None,
) -> list[Finding]:
    """Findings for a document or web page (``where="text"``).

    ``code_scanner(code, first_line)`` is called for every python / bash / sh fenced block
    (shell lines become IPython ``!`` lines, line for line); it returns findings already
    numbered in the document (it is told the block's first line for that).
    """
    findings = _scan_plain(
        text, registry, secrets, TEXT_CATEGORIES, file=file, cell=None, where="text"
    )
    if code_scanner is not None and ("```" in text or "~~~" in text):
        for block in fenced_blocks(text):
            if not block.code.strip():
                continue
            for finding in code_scanner(block.code, block.first_line):
                findings.append(
                    dataclasses.replace(
                        finding, where="text", file=finding.file if finding.file else file
                    )
                )
    return _dedupe(findings)


# ---------------------------------------------------------------------- outputs


def _joined(value: Any) -> str:
    """nbformat multiline strings are a string or a list of strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def _output_texts(output: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(mime type or part name, text) for every textual part of one output."""
    kind = output.get("output_type")
    if kind == "stream":
        yield f"{output.get('name', 'stream')} stream", _joined(output.get("text"))
    elif kind == "error":
        yield "error", f"{output.get('ename', '')}: {output.get('evalue', '')}"
        traceback = output.get("traceback")
        if isinstance(traceback, list):
            yield "traceback", "\n".join(t for t in traceback if isinstance(t, str))
    data = output.get("data")
    if isinstance(data, dict):
        for mime, value in data.items():
            if not isinstance(mime, str) or mime.startswith(_SKIPPED_MIMES):
                continue
            if mime.endswith("json") or mime.endswith("+json"):
                try:
                    text = value if isinstance(value, str) else json.dumps(value, indent=1)
                except (TypeError, ValueError):
                    continue
                yield mime, text
            else:
                yield mime, _joined(value)


def scan_output(
    output: dict[str, Any],
    registry: RuleRegistry,
    secrets: SecretScanner,
    *,
    file: str | None,
    cell: int | None,
) -> list[Finding]:
    """Findings for one nbformat output (``where="output"``); lines count within each part."""
    findings: list[Finding] = []
    secret_rule = registry.rules.get(SECRET_OUTPUT_RULE)
    output_rules = [r for r in registry.patterns if r.meta.category == "output"]
    bundle = output.get("data")
    data: dict[str, Any] = bundle if isinstance(bundle, dict) else {}
    seen_secrets: set[str] = set()
    for part, raw in _output_texts(output):
        if not raw:
            continue
        raw_lines = _lines(raw)
        for rule in output_rules:  # escapes are matched before colour codes are removed
            for line_no, match in _pattern_matches(raw, rule):
                line = raw_lines[line_no - 1] if line_no <= len(raw_lines) else ""
                findings.append(
                    Finding(
                        rule.meta,
                        line=line_no,
                        column=match.start(),
                        snippet=_snippet(_ANSI_CSI.sub("", line).replace("\x1b", "\\x1b"), 0, ()),
                        message=f"{rule.meta.title} in {part} output",
                        file=file,
                        cell=cell,
                        where="output",
                    )
                )
        text = _ANSI_CSI.sub("", raw)
        categories = {"prompt-injection"}
        if part in _HTML_MIMES:
            categories.add("script-injection")
        findings.extend(
            _scan_plain(
                text,
                registry,
                secrets,
                frozenset(categories),
                file=file,
                cell=cell,
                where="output",
                context=f"{part} output",
                secret_rule=secret_rule,
                seen_values=seen_secrets,  # the same secret in text/plain and text/html
            )
        )
    javascript = registry.rules.get(JAVASCRIPT_OUTPUT_RULE)
    for mime in sorted(_JS_MIMES):
        meta = javascript
        if meta is not None and mime in data:
            code = _joined(data[mime])
            findings.append(
                Finding(
                    meta,
                    line=1,
                    column=0,
                    snippet=_snippet(code.splitlines()[0] if code else "", 0, ()),
                    message=f"{meta.title} ({mime})",
                    file=file,
                    cell=cell,
                    where="output",
                )
            )
    widget = registry.rules.get(WIDGET_OUTPUT_RULE)
    if widget is not None and _WIDGET_MIME in data:
        view = data[_WIDGET_MIME]
        model = view.get("model_id", "?") if isinstance(view, dict) else "?"
        findings.append(
            Finding(
                widget,
                line=1,
                column=0,
                snippet=f"widget view {model}",
                message=f"{widget.title}: model {model}",
                file=file,
                cell=cell,
                where="output",
            )
        )
    return _dedupe(findings)
