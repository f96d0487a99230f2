"""One walk over a Python AST, dispatching each node to the checks registered for its type.

:class:`PyContext` gives checks what they need to be precise and cheap:
import aliases (``import subprocess as sp`` makes ``sp.run`` resolve to
``subprocess.run``), literal tests, and a small taint step: names assigned from
``input()``, ``sys.argv``, request objects, widget values or notebook
parameters are *tainted*, and so is any expression built from them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

from grace_kernel.hunter._model import Finding
from grace_kernel.hunter._registry import RuleRegistry

__all__ = ["PyContext", "scan_tree", "suppressed_rules"]

_SUPPRESS = re.compile(r"#\s*grace:\s*ignore\[([A-Za-z0-9_, -]+)\]")
_TAINT_CALLS = frozenset({"input", "raw_input", "sys.stdin.read", "sys.stdin.readline"})
_REQUEST_ROOTS = frozenset({"request", "req", "flask.request", "self.request"})


class PyContext:
    """The parsed source plus the facts checks share."""

    def __init__(
        self,
        tree: ast.Module,
        source: str,
        *,
        tainted: Iterable[str] = (),
    ) -> None:
        self.tree = tree
        self.source = source
        self.lines = source.splitlines()
        self.aliases: dict[str, str] = {}
        self.tainted: set[str] = set(tainted)
        self.widgets: set[str] = set()
        #: For rule sets to keep what they compute once per tree (keyed by their own names).
        self.cache: dict[str, object] = {}
        self._call_names: dict[int, str] = {}
        #: Every node, walked once and shared by the fact collection and the checks.
        self.nodes: list[ast.AST] = list(ast.walk(tree))
        self._collect()

    # ------------------------------------------------------------------ facts

    def _collect(self) -> None:
        assigns: list[ast.Assign | ast.AnnAssign] = []
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                assigns.append(node)
        for _ in range(3):  # propagate through a few assignment hops
            changed = False
            for node in assigns:
                value = node.value
                assert value is not None  # filtered above
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if not names:
                    continue
                if isinstance(value, ast.Call):
                    qual = self.qualname(value.func) or ""
                    if qual.startswith(("ipywidgets.", "widgets.")):
                        self.widgets.update(names)
                if self.is_tainted(value) and not set(names) <= self.tainted:
                    self.tainted.update(names)
                    changed = True
            if not changed:
                break

    def qualname(self, node: ast.AST) -> str | None:
        """Dotted name of ``node``, aliases resolved (``sp.run`` -> ``subprocess.run``)."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        elif isinstance(node, ast.Call):
            inner = self.qualname(node.func)
            if inner is None:
                return None
            parts.append(inner + "()")
        else:
            return None
        return ".".join(reversed(parts))

    def call_name(self, node: ast.Call) -> str:
        """The alias-resolved name of what ``node`` calls (memoized: every check asks)."""
        key = id(node)
        name = self._call_names.get(key)
        if name is None:
            name = self._call_names[key] = self.qualname(node.func) or ""
        return name

    @staticmethod
    def is_literal(node: ast.AST | None) -> bool:
        """A constant, or a container / f-string made only of constants."""
        if node is None:
            return True
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(isinstance(v, ast.Constant) for v in node.values)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(PyContext.is_literal(e) for e in node.elts)
        if isinstance(node, ast.BinOp):
            return PyContext.is_literal(node.left) and PyContext.is_literal(node.right)
        return False

    def is_tainted(self, node: ast.AST | None) -> bool:
        """Whether user-controlled data (input, argv, requests, widgets, parameters) flows here."""
        if node is None:
            return False
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in self.tainted:
                return True
            if isinstance(sub, ast.Call) and self.call_name(sub) in _TAINT_CALLS:
                return True
            if isinstance(sub, ast.Attribute):
                qual = self.qualname(sub) or ""
                if qual.startswith("sys.argv") or qual == "sys.argv":
                    return True
                root = qual.rsplit(".", 1)[0] if "." in qual else ""
                if any(qual.startswith(r + ".") for r in _REQUEST_ROOTS) and root:
                    return True
                if (
                    sub.attr == "value"
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id in self.widgets
                ):
                    return True
            if isinstance(sub, ast.Subscript) and (self.qualname(sub.value) or "") == "sys.argv":
                return True
        return False

    def line(self, number: int) -> str:
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""

    def segment(self, node: ast.AST) -> str:
        start = getattr(node, "lineno", 1)
        end = getattr(node, "end_lineno", start) or start
        return "\n".join(self.lines[start - 1 : end])


def suppressed_rules(lines: list[str], start: int, end: int) -> set[str]:
    """Rule ids named by ``# grace: ignore[...]`` on any of lines ``start``..``end``."""
    found: set[str] = set()
    for number in range(max(1, start), min(len(lines), end) + 1):
        match = _SUPPRESS.search(lines[number - 1])
        if match:
            found.update(part.strip() for part in match.group(1).split(","))
    return found


def _statement_spans(tree: ast.Module) -> list[tuple[int, int]]:
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def scan_tree(
    ctx: PyContext,
    registry: RuleRegistry,
    *,
    file: str | None = None,
    cell: int | None = None,
) -> Iterator[Finding]:
    """Run every registered Python check over one tree; suppressed findings are dropped."""
    checks = registry.python
    spans: list[tuple[int, int]] | None = None
    for node in ctx.nodes:
        for meta, check in checks.get(type(node), ()):
            for hit in check(node, ctx):
                line = getattr(hit.node, "lineno", 1)
                end = getattr(hit.node, "end_lineno", line) or line
                if "grace:" in ctx.source:
                    if spans is None:
                        spans = _statement_spans(ctx.tree)
                    enclosing = [s for s in spans if s[0] <= line <= s[1]]
                    first, last = min(enclosing, key=lambda s: s[1] - s[0], default=(line, end))
                    if meta.id in suppressed_rules(ctx.lines, first, max(last, end)):
                        continue
                yield Finding(
                    rule=meta,
                    line=line,
                    column=getattr(hit.node, "col_offset", 0),
                    end_line=end,
                    snippet=ctx.segment(hit.node).strip()[:500],
                    message=hit.message,
                    file=file,
                    cell=cell,
                    fix=hit.fix,
                    severity=hit.severity,
                )
