"""Hunter's Python rule set: one small check per rule id in ``data/hunter/python.yaml``.

Checks are registered explicitly by :func:`register_python_rules`; nothing runs at
import.  Every check is cheap: it first compares the alias-resolved call name (cached
on the node, so the forty-odd ``ast.Call`` checks resolve a name once) against a small
set and returns at once when it does not match.  Facts that need a look at the whole
tree (names bound to tarfile objects, SQL strings, constant URLs...) are computed
lazily, once per :class:`PyContext`, only when a check first needs them.

Fixes are computed from the source text: the call's line span is copied and edited at
the exact column offsets of the nodes involved, so the rest of the line survives.
"""

from __future__ import annotations

import ast
import functools
import re
import shlex
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence

from grace_kernel.hunter._model import Fix, Severity
from grace_kernel.hunter._pyscan import PyContext
from grace_kernel.hunter._registry import Hit, RuleRegistry

__all__ = ["register_python_rules"]

# A check takes the node type it is registered for; the registry only ever passes that type.
Check = Callable[..., Iterable[Hit]]
_NONE: tuple[Hit, ...] = ()

# ----------------------------------------------------------------- shared helpers


def _name(node: ast.Call, ctx: PyContext) -> str:
    """The alias-resolved call name (memoized by the context)."""
    return ctx.call_name(node)


def _method(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _kw(node: ast.Call, *names: str) -> ast.keyword | None:
    for kw in node.keywords:
        if kw.arg in names:
            return kw
    return None


def _arg(node: ast.Call, index: int, *names: str) -> ast.expr | None:
    """Positional argument ``index`` or the keyword ``names``."""
    if len(node.args) > index and not isinstance(node.args[index], ast.Starred):
        return node.args[index]
    kw = _kw(node, *names) if names else None
    return kw.value if kw is not None else None


def _has_kwargs(node: ast.Call) -> bool:
    return any(kw.arg is None for kw in node.keywords)


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _plain_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _lit(node: ast.AST | None) -> bool:
    """Literal all the way down (constants, containers, dicts, constant f-strings)."""
    if node is None or isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_lit(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(_lit(k) for k in node.keys) and all(_lit(v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _lit(node.left) and _lit(node.right)
    if isinstance(node, ast.UnaryOp):
        return _lit(node.operand)
    return False


def _fold(node: ast.AST | None) -> str | None:
    """Constant-fold a string expression (``'sys' + 'tem'``, ``''.join(['o', 's'])``)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fold(node.left), _fold(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [_fold(v) for v in node.values]
        return None if None in parts else "".join(p for p in parts if p is not None)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List | ast.Tuple)
    ):
        items = [_fold(e) for e in node.args[0].elts]
        if None in items:
            return None
        return node.func.value.value.join(i for i in items if i is not None)
    return None


def _secret_free(value: str) -> bool:
    """Values that are not secrets: empty, placeholders, env-var names, prose."""
    v = value.strip()
    return (
        not v
        or " " in v
        or v.lower() in _PLACEHOLDERS
        or bool(_PLACEHOLDER_SHAPE.fullmatch(v))
        or bool(_ENV_NAME.fullmatch(v))
    )


_WORDY = re.compile(r"[A-Za-z0-9].*[A-Za-z0-9]")
_PLACEHOLDERS = frozenset({"none", "null", "nil", "xxx", "***", "...", "todo", "redacted"})
_PLACEHOLDER_SHAPE = re.compile(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\$\{?\w+\}?|%\(\w+\)s|\*+|x+")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:pass|passwd|password|passphrase|pwd|secret|token|api_?key|apikey|"
    r"access_?key|secret_?key|private_?key|auth_?key|auth_?token|credentials?|"
    r"client_?secret|signing_?key)$"
)
_SPECIAL_TOKEN = re.compile(
    r"(?:^|_)(?:pad|bos|eos|unk|sep|cls|mask|start|end|special|sos|eot|stop|"
    r"additional_special|next|page|continuation|csrf_?header)_?tokens?$"
)
_RANDOM_SECRET = re.compile(
    r"(?:^|_)(?:salt|nonce|otp|pin|session_?id|session_?key|csrf|csrf_?token|iv|"
    r"reset_?code|verification_?code|one_?time_?code)$"
)


@functools.lru_cache(maxsize=4096)  # a pure function of the name: memoized, not state
def _secret_name(name: str) -> bool:
    norm = _CAMEL.sub(r"\1_\2", name).lower().strip("_")
    return bool(_SECRET_NAME.search(norm)) and not _SPECIAL_TOKEN.search(norm)


def _target_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _plain_str(node.slice)
    return None


# ----------------------------------------------------------------- lazy facts


class _Facts:
    """Whole-tree facts, each computed on first use."""

    __slots__ = (
        "_assigns",
        "_consts",
        "_joined",
        "_roots",
        "_sanitized",
        "_secret_random",
        "_sql",
        "_tar",
    )

    def __init__(self) -> None:
        self._assigns: list[tuple[str, ast.expr]] | None = None
        self._roots: frozenset[str] | None = None
        self._tar: frozenset[str] | None = None
        self._sql: frozenset[str] | None = None
        self._consts: dict[str, str] | None = None
        self._secret_random: frozenset[int] | None = None
        self._sanitized: frozenset[str] | None = None
        self._joined: frozenset[str] | None = None

    def roots(self, ctx: PyContext) -> frozenset[str]:
        """Top-level packages imported anywhere in the tree."""
        if self._roots is None:
            self._roots = frozenset(v.split(".", 1)[0] for v in ctx.aliases.values())
        return self._roots

    def _assignments(self, ctx: PyContext) -> list[tuple[str, ast.expr]]:
        """(name, value) for every simple binding in the tree, collected in one walk."""
        if self._assigns is None:
            self._assigns = list(self._bindings(ctx))
        return self._assigns

    @staticmethod
    def _bindings(ctx: PyContext) -> Iterator[tuple[str, ast.expr]]:
        for node in ast.walk(ctx.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        yield target.id, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                if isinstance(node.target, ast.Name):
                    yield node.target.id, node.value
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                yield node.target.id, ast.BinOp(left=node.target, op=node.op, right=node.value)
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        yield item.optional_vars.id, item.context_expr

    def tar(self, ctx: PyContext) -> frozenset[str]:
        if self._tar is None:
            found = set()
            for name, value in self._assignments(ctx):
                if isinstance(value, ast.Call) and _name(value, ctx).startswith("tarfile."):
                    found.add(name)
            self._tar = frozenset(found)
        return self._tar

    def sql(self, ctx: PyContext) -> frozenset[str]:
        """Names assigned an SQL string built by formatting or concatenation."""
        if self._sql is None:
            found: set[str] = set()
            for _ in range(2):
                for name, value in self._assignments(ctx):
                    if _built_sql(value, found):
                        found.add(name)
            self._sql = frozenset(found)
        return self._sql

    def consts(self, ctx: PyContext) -> dict[str, str]:
        """Names bound exactly once, to a constant string."""
        if self._consts is None:
            seen: dict[str, str | None] = {}
            for name, value in self._assignments(ctx):
                text = _fold(value)
                seen[name] = text if name not in seen else None
            self._consts = {k: v for k, v in seen.items() if v is not None}
        return self._consts

    def secret_random(self, ctx: PyContext) -> frozenset[int]:
        """ids of random.* calls whose value is assigned to a secret-like name."""
        if self._secret_random is None:
            found: set[int] = set()
            for node in ast.walk(ctx.tree):
                hit = _random_in_secret_assignment(node, ctx)
                if hit is not None:
                    found.update(id(call) for call in hit)
            self._secret_random = frozenset(found)
        return self._secret_random

    def sanitized(self, ctx: PyContext) -> frozenset[str]:
        if self._sanitized is None:
            found = set()
            for name, value in self._assignments(ctx):
                if isinstance(value, ast.Call) and _name(value, ctx) in _SANITIZERS:
                    found.add(name)
            self._sanitized = frozenset(found)
        return self._sanitized

    def joined(self, ctx: PyContext) -> frozenset[str]:
        """Names assigned a path built by joining pieces."""
        if self._joined is None:
            found: set[str] = set()
            for _ in range(2):
                for name, value in self._assignments(ctx):
                    if _is_join(value, ctx, found):
                        found.add(name)
            self._joined = frozenset(found)
        return self._joined


def _facts(ctx: PyContext) -> _Facts:
    facts = ctx.cache.get("python-facts")
    if not isinstance(facts, _Facts):
        facts = _Facts()
        ctx.cache["python-facts"] = facts
    return facts


# ----------------------------------------------------------------- fixes


def _char_col(text: str, byte_col: int) -> int:
    if text.isascii():
        return byte_col
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


class _Edit:
    """Text edits at AST positions inside lines ``first``..``last``, turned into a Fix."""

    def __init__(self, ctx: PyContext, first: int, last: int) -> None:
        self.first = first
        self.last = last
        self.lines = ctx.lines[first - 1 : last]
        self.edits: list[tuple[int, int, str]] = []

    def pos(self, line: int, col: int) -> int:
        index = line - self.first
        before = sum(len(text) + 1 for text in self.lines[:index])
        return before + _char_col(self.lines[index], col)

    def start(self, node: ast.AST) -> int:
        return self.pos(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.pos(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def replace(self, start: int, end: int, text: str) -> _Edit:
        self.edits.append((start, end, text))
        return self

    def replace_node(self, node: ast.AST, text: str) -> _Edit:
        return self.replace(self.start(node), self.end(node), text)

    def fix(self, description: str) -> Fix:
        text = "\n".join(self.lines)
        for start, end, new in sorted(self.edits, reverse=True):
            text = text[:start] + new + text[end:]
        return Fix(description, self.first, self.last, text)


def _call_edit(node: ast.Call, ctx: PyContext) -> _Edit | None:
    first, last = node.lineno, node.end_lineno or node.lineno
    if last > len(ctx.lines):
        return None
    return _Edit(ctx, first, last)


def _items(node: ast.Call) -> list[ast.AST]:
    items: list[ast.AST] = [*node.args, *node.keywords]
    return sorted(items, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]


def _remove_item(edit: _Edit, node: ast.Call, item: ast.AST) -> _Edit:
    """Remove one argument with the comma that separates it from its neighbour."""
    items = _items(node)
    i = next(k for k, it in enumerate(items) if it is item)
    if i > 0:
        return edit.replace(edit.end(items[i - 1]), edit.end(item), "")
    if i + 1 < len(items):
        return edit.replace(edit.start(item), edit.start(items[i + 1]), "")
    return edit.replace(edit.start(item), edit.end(item), "")


def _add_kw_fix(node: ast.Call, ctx: PyContext, text: str, description: str) -> Fix | None:
    """Append ``text`` (``name=value``) as the call's last argument."""
    edit = _call_edit(node, ctx)
    if edit is None or any(isinstance(a, ast.GeneratorExp) for a in node.args):
        return None
    items = _items(node)
    if items:
        at = edit.end(items[-1])
        edit.replace(at, at, ", " + text)
    else:
        at = edit.pos(node.end_lineno or node.lineno, (node.end_col_offset or 1) - 1)
        edit.replace(at, at, text)
    return edit.fix(description)


def _kw_value_fix(
    node: ast.Call, kw: ast.keyword, ctx: PyContext, text: str, description: str
) -> Fix | None:
    edit = _call_edit(node, ctx)
    if edit is None:
        return None
    return edit.replace_node(kw.value, text).fix(description)


# ----------------------------------------------------------------- check builders


def _hit(
    node: ast.AST, message: str, *, fix: Fix | None = None, severity: Severity | None = None
) -> tuple[Hit, ...]:
    return (Hit(node, message, fix=fix, severity=severity),)


def _calls(names: Iterable[str], message: str) -> Check:
    """Fire on any call to one of ``names``."""
    wanted = frozenset(names)

    def check(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
        name = _name(node, ctx)
        if name not in wanted:
            return _NONE
        return _hit(node, message.format(name=name))

    return check


def _calls_nonliteral(
    names: Iterable[str], message: str, *, index: int = 0, kwnames: Sequence[str] = ()
) -> Check:
    """Fire on calls to ``names`` whose argument ``index`` is not a literal."""
    wanted = frozenset(names)

    def check(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
        name = _name(node, ctx)
        if name not in wanted:
            return _NONE
        arg = _arg(node, index, *kwnames)
        if arg is None or _lit(arg):
            return _NONE
        return _hit(node, message.format(name=name))

    return check


def _with_modules(prefixes: Iterable[str], message: str) -> Check:
    """Fire on an import of any module under ``prefixes``."""
    wanted = tuple(prefixes)

    def matches(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in wanted)

    def check(node: ast.AST, _ctx: PyContext) -> Iterable[Hit]:
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            return _NONE
        for module in modules:
            if matches(module):
                return _hit(node, message.format(name=module))
        return _NONE

    return check


# ----------------------------------------------------------------- dangerous calls

_EVAL = frozenset({"eval", "builtins.eval"})
_EXEC = frozenset({"exec", "builtins.exec"})
_COMPILE = frozenset({"compile", "builtins.compile"})
_CODE_RUNNERS = _EVAL | _EXEC | _COMPILE


def _code_check(names: frozenset[str], what: str) -> Check:
    def check(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
        if _name(node, ctx) not in names or not node.args:
            return _NONE
        arg = node.args[0]
        if _lit(arg):
            return _NONE
        if ctx.is_tainted(arg):
            return _hit(
                node, f"{what}() runs code built from user input", severity=Severity.CRITICAL
            )
        return _hit(node, f"{what}() runs code that is not a literal")

    return check


def _check_assert(node: ast.AST, _ctx: PyContext) -> Iterable[Hit]:
    return _hit(node, "assert is removed under python -O; do not use it for checks")


def _mode_value(node: ast.AST | None, ctx: PyContext) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.Add):
        left, right = _mode_value(node.left, ctx), _mode_value(node.right, ctx)
        return None if left is None or right is None else left | right
    if isinstance(node, ast.Attribute | ast.Name):
        qual = ctx.qualname(node) or ""
        if qual.startswith("stat.S_"):
            value = getattr(stat, qual[5:], None)
            return value if isinstance(value, int) else None
    return None


_CHMOD_FUNCS = frozenset({"os.chmod", "os.fchmod", "os.lchmod"})


def _check_chmod(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name in _CHMOD_FUNCS:
        mode = _arg(node, 1, "mode")
    elif _method(name) == "chmod" and isinstance(node.func, ast.Attribute):
        mode = _arg(node, 0, "mode")
    else:
        return _NONE
    value = _mode_value(mode, ctx)
    if value is None or not value & stat.S_IWOTH:
        return _NONE
    return _hit(node, f"chmod to {oct(value)} makes the file writable by every user")


_BIND_METHODS = frozenset(
    {"bind", "run", "listen", "serve", "create_server", "make_server", "start_server"}
)
_BIND_KWS = frozenset({"host", "bind", "address", "addr", "ip", "listen", "server_name"})
_ALL_INTERFACES = frozenset({"0.0.0.0", "::"})  # noqa: S104 - the values this rule looks for


def _check_bind_all(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    for kw in node.keywords:
        if kw.arg in _BIND_KWS and _plain_str(kw.value) in _ALL_INTERFACES:
            return _hit(node, "server binds to all network interfaces")
    if _method(_name(node, ctx)) in _BIND_METHODS:
        for arg in node.args:
            elts = arg.elts if isinstance(arg, ast.Tuple) else [arg]
            if any(_plain_str(e) in _ALL_INTERFACES for e in elts):
                return _hit(node, "server binds to all network interfaces")
    return _NONE


# ----------------------------------------------------------------- hard-coded secrets


def _secret_fix(target: ast.AST, value: ast.expr, ctx: PyContext) -> Fix | None:
    name = _target_name(target)
    if name is None or isinstance(target, ast.Subscript):
        return None
    first, last = value.lineno, value.end_lineno or value.lineno
    edit = _Edit(ctx, first, last)
    env = _CAMEL.sub(r"\1_\2", name).upper()
    return edit.replace_node(value, f'os.environ["{env}"]').fix(
        f"read the secret from the environment variable {env} (add `import os` if missing)"
    )


def _check_password_string(node: ast.AST, ctx: PyContext) -> Iterable[Hit]:
    hits: list[Hit] = []
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        text = _plain_str(value)
        if value is None or text is None or _secret_free(text):
            return _NONE
        for target in targets:
            name = _target_name(target)
            if name is not None and _secret_name(name):
                fix = _secret_fix(target, value, ctx)
                return _hit(value, f"hard-coded secret assigned to {name!r}", fix=fix)
    elif isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        names = [_target_name(s) for s in sides if isinstance(s, ast.Name | ast.Attribute)]
        # a bare `token` compared with a string is a parser/tokenizer, not a credential
        if any(n is not None and n.lower() != "token" and _secret_name(n) for n in names):
            for side in sides:
                text = _plain_str(side)
                if text is not None and not _secret_free(text) and _WORDY.search(text):
                    hits.append(Hit(side, "secret compared against a hard-coded string"))
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            key_text, text = _plain_str(key), _plain_str(value)
            if (
                key_text
                and key_text.lower() != "pwd"  # as a key it is the shell command more often
                and text is not None
                and _secret_name(key_text)
                and not _secret_free(text)
            ):
                hits.append(Hit(value, f"hard-coded secret under key {key_text!r}"))
    return hits


def _check_password_kwarg(node: ast.Call, _ctx: PyContext) -> Iterable[Hit]:
    for kw in node.keywords:
        if kw.arg and _secret_name(kw.arg):
            text = _plain_str(kw.value)
            if text is not None and not _secret_free(text):
                return _hit(kw.value, f"hard-coded secret passed as {kw.arg}=")
    return _NONE


def _check_password_default(
    node: ast.FunctionDef | ast.AsyncFunctionDef, _ctx: PyContext
) -> Iterable[Hit]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    pairs = list(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
    hits = []
    for arg, default in pairs:
        text = _plain_str(default)
        if text is not None and _secret_name(arg.arg) and not _secret_free(text):
            hits.append(Hit(default, f"hard-coded default secret for argument {arg.arg!r}"))
    return hits


_TMP = re.compile(r"/(?:var/)?tmp(?:/|$)|/dev/shm(?:/|$)")
_TMP_PREFIXES = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - the paths this rule looks for


def _check_tmp(node: ast.Constant, _ctx: PyContext) -> Iterable[Hit]:
    value = node.value
    if isinstance(value, str) and value.startswith(_TMP_PREFIXES) and _TMP.match(value):
        return _hit(node, f"hard-coded temporary path {value[:40]!r}")
    return _NONE


_BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})


def _broad_handler(node: ast.ExceptHandler, ctx: PyContext) -> bool:
    if node.type is None:
        return True
    types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
    return any((ctx.qualname(t) or "") in _BROAD for t in types)


def _swallow(kind: type[ast.stmt]) -> Check:
    def check(node: ast.ExceptHandler, ctx: PyContext) -> Iterable[Hit]:
        if len(node.body) != 1 or not _broad_handler(node, ctx):
            return _NONE
        stmt = node.body[0]
        empty = isinstance(stmt, kind) or (
            kind is ast.Pass and isinstance(stmt, ast.Expr) and _is_const(stmt.value, Ellipsis)
        )
        if not empty:
            return _NONE
        word = "pass" if kind is ast.Pass else "continue"
        return _hit(node, f"every exception is silently swallowed (except: {word})")

    return check


# ----------------------------------------------------------------- web / network

_REQUESTS = frozenset(
    f"requests.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options", "request")
) | frozenset(f"requests.api.{m}" for m in ("get", "post", "put", "patch", "delete", "request"))


def _check_requests_timeout(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in _REQUESTS or _kw(node, "timeout") or _has_kwargs(node):
        return _NONE
    fix = _add_kw_fix(node, ctx, "timeout=30", "add a timeout so a stalled server cannot hang")
    return _hit(node, "HTTP request without a timeout can hang forever", fix=fix)


def _check_flask_debug(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if _method(name) != "run":
        return _NONE
    kw = _kw(node, "debug")
    if kw is None or not _is_const(kw.value, True):
        return _NONE
    if "flask" not in _facts(ctx).roots(ctx) and "app" not in name.lower():
        return _NONE
    return _hit(node, "Flask debug mode exposes the Werkzeug debugger (remote code execution)")


def _check_tar(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in ("extractall", "extract"):
        return _NONE
    name = _name(node, ctx)
    receiver = func.value
    is_tar = name.startswith("tarfile.") or (
        isinstance(receiver, ast.Name) and receiver.id in _facts(ctx).tar(ctx)
    )
    if not is_tar:
        return _NONE
    kw = _kw(node, "filter")
    if kw is not None and _plain_str(kw.value) != "fully_trusted":
        return _NONE
    return _hit(node, f"tarfile {func.attr}() without filter= can write outside the target")


# ----------------------------------------------------------------- deserialization

_PICKLE = frozenset(
    [
        f"{mod}.{fn}"
        for mod in ("pickle", "cPickle", "_pickle", "dill", "cloudpickle")
        for fn in ("load", "loads", "Unpickler")
    ]
    + ["shelve.open", "shelve.DbfilenameShelf", "pandas.read_pickle", "joblib.load"]
)
_MARSHAL = frozenset({"marshal.load", "marshal.loads"})
_JSONPICKLE = frozenset(
    {
        "jsonpickle.decode",
        "jsonpickle.loads",
        "jsonpickle.unpickler.decode",
        "jsonpickle.Unpickler",
        "jsonpickle.unpickler.Unpickler",
    }
)


def _check_pickle(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    numpy_pickle = name == "numpy.load" and _is_const(_arg(node, 99, "allow_pickle"), True)
    if name not in _PICKLE and not numpy_pickle:
        return _NONE
    severity = Severity.CRITICAL if node.args and ctx.is_tainted(node.args[0]) else None
    return _hit(node, f"{name}() can run arbitrary code from the data it loads", severity=severity)


_TORCH_LOAD = frozenset({"torch.load", "torch.serialization.load"})


def _check_torch(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in _TORCH_LOAD:
        return _NONE
    kw = _kw(node, "weights_only")
    if kw is not None and _is_const(kw.value, True):
        return _NONE
    if kw is None and _has_kwargs(node):
        return _NONE
    description = "load tensors only (weights_only=True): no pickled code runs"
    if kw is None:
        fix = _add_kw_fix(node, ctx, "weights_only=True", description)
    else:
        fix = _kw_value_fix(node, kw, ctx, "True", description)
    return _hit(node, "torch.load without weights_only=True unpickles arbitrary code", fix=fix)


_YAML = frozenset({"yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.unsafe_load_all"})
_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader")


def _check_yaml(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _YAML:
        return _NONE
    loader = _arg(node, 1, "Loader")
    if (
        "unsafe" not in name
        and loader is not None
        and (ctx.qualname(loader) or "").endswith(_SAFE_LOADERS)
    ):
        return _NONE
    safe = "safe_load_all" if name.endswith("_all") else "safe_load"
    fix = None
    if isinstance(node.func, ast.Attribute):
        edit = _call_edit(node, ctx)
        if edit is not None:
            end = edit.end(node.func)
            edit.replace(end - len(node.func.attr), end, safe)
            if loader is not None:
                item: ast.AST = loader
                kw = _kw(node, "Loader")
                if kw is not None:
                    item = kw
                _remove_item(edit, node, item)
            fix = edit.fix(f"use yaml.{safe}, which builds only plain data")
    return _hit(node, f"{name}() can construct arbitrary Python objects", fix=fix)


# ----------------------------------------------------------------- crypto

_HASHLIB_WEAK = frozenset({"md5", "sha1", "md4", "md2", "sha", "ripemd160", "md5-sha1"})


def _check_hashlib(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if not name.startswith("hashlib."):
        return _NONE
    algo = name[8:]
    target: ast.AST | None = None
    if algo == "new":
        algo = (_plain_str(_arg(node, 0, "name")) or "").lower()
        target = _arg(node, 0, "name")
    if algo not in _HASHLIB_WEAK:
        return _NONE
    if _is_const(_arg(node, 99, "usedforsecurity"), False):
        return _NONE
    edit = _call_edit(node, ctx)
    fix = None
    description = "use SHA-256 (or pass usedforsecurity=False for a non-security checksum)"
    if edit is not None and target is not None:
        fix = edit.replace_node(target, '"sha256"').fix(description)
    elif edit is not None and isinstance(node.func, ast.Attribute):
        end = edit.end(node.func)
        fix = edit.replace(end - len(node.func.attr), end, "sha256").fix(description)
    return _hit(node, f"weak hash {algo} used for security", fix=fix)


_WEAK_HASH_LIBS = frozenset(
    [
        f"{pkg}.Hash.{alg}.new"
        for pkg in ("Crypto", "Cryptodome")
        for alg in ("MD2", "MD4", "MD5", "SHA")
    ]
    + [f"cryptography.hazmat.primitives.hashes.{alg}" for alg in ("MD5", "SHA1")]
)
_WEAK_CIPHERS = frozenset(
    [
        f"{pkg}.Cipher.{alg}.new"
        for pkg in ("Crypto", "Cryptodome")
        for alg in ("ARC2", "ARC4", "Blowfish", "DES", "XOR", "CAST")
    ]
    + [
        f"cryptography.hazmat.primitives.ciphers.algorithms.{alg}"
        for alg in ("ARC4", "Blowfish", "IDEA", "CAST5", "SEED", "TripleDES")
    ]
    + ["pyDes.des", "pyDes.triple_des"]
)


def _check_ecb(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name == "cryptography.hazmat.primitives.ciphers.modes.ECB":
        return _hit(node, "ECB mode leaks patterns in the plaintext")
    if not name.startswith(("Crypto.", "Cryptodome.")):
        return _NONE
    for arg in [*node.args, *(kw.value for kw in node.keywords)]:
        if isinstance(arg, ast.Attribute) and arg.attr == "MODE_ECB":
            return _hit(node, "ECB mode leaks patterns in the plaintext")
    return _NONE


def _check_unverified_context(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in ("ssl._create_unverified_context", "ssl._create_stdlib_context"):
        return _NONE
    fix = None
    if isinstance(node.func, ast.Attribute) and not node.args and not node.keywords:
        edit = _call_edit(node, ctx)
        if edit is not None:
            base = ast.get_source_segment(ctx.source, node.func.value)
            if base is not None:
                fix = edit.replace_node(node, f"{base}.create_default_context()").fix(
                    "use ssl.create_default_context(), which verifies certificates and hosts"
                )
    return _hit(node, f"{name}() disables certificate verification", fix=fix)


def _check_cert_none(node: ast.AST, ctx: PyContext) -> Iterable[Hit]:
    if isinstance(node, ast.Attribute):
        if node.attr == "CERT_NONE" and ctx.qualname(node) == "ssl.CERT_NONE":
            return _hit(node, "ssl.CERT_NONE turns certificate verification off")
    elif isinstance(node, ast.ImportFrom):
        if node.module == "ssl" and any(a.name == "CERT_NONE" for a in node.names):
            return _hit(node, "ssl.CERT_NONE turns certificate verification off")
    elif isinstance(node, ast.Assign) and _is_const(node.value, False):
        for target in node.targets:
            if isinstance(target, ast.Attribute) and target.attr == "check_hostname":
                return _hit(node, "check_hostname = False accepts any server's certificate")
    return _NONE


_BAD_PROTOCOLS = frozenset(
    {
        "PROTOCOL_SSLv2",
        "PROTOCOL_SSLv3",
        "PROTOCOL_TLSv1",
        "PROTOCOL_TLSv1_1",
        "SSLv2_METHOD",
        "SSLv3_METHOD",
        "SSLv23_METHOD",
        "TLSv1_METHOD",
        "TLSv1_1_METHOD",
    }
)


def _check_bad_protocol(node: ast.AST, ctx: PyContext) -> Iterable[Hit]:
    if isinstance(node, ast.Attribute):
        if node.attr in _BAD_PROTOCOLS:
            return _hit(node, f"{node.attr} is a broken SSL/TLS protocol version")
        if node.attr in ("SSLv3", "TLSv1", "TLSv1_1"):
            version = ctx.qualname(node) or ""
            if version.startswith("ssl.TLSVersion."):
                return _hit(node, f"{version} allows a broken TLS protocol version")
    elif isinstance(node, ast.ImportFrom):
        bad = [a.name for a in node.names if a.name in _BAD_PROTOCOLS]
        if bad:
            return _hit(node, f"{bad[0]} is a broken SSL/TLS protocol version")
    return _NONE


def _check_wrap_socket(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) != "ssl.wrap_socket":
        return _NONE
    if _kw(node, "ssl_version") is not None:
        return _NONE
    return _hit(node, "ssl.wrap_socket without ssl_version (deprecated; no hostname check)")


_HTTP_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream"}
    | {"Client", "AsyncClient", "Session", "urlopen"}
)


def _check_verify_false(node: ast.Call | ast.Assign, ctx: PyContext) -> Iterable[Hit]:
    if isinstance(node, ast.Assign):
        if not _is_const(node.value, False):
            return _NONE
        for target in node.targets:
            if isinstance(target, ast.Attribute) and target.attr == "verify":
                line_edit = _Edit(ctx, node.value.lineno, node.value.end_lineno or node.lineno)
                patch = line_edit.replace_node(node.value, "True").fix("verify TLS certificates")
                return _hit(node, "TLS certificate verification turned off", fix=patch)
        return _NONE
    kw = _kw(node, "verify")
    if kw is None or not _is_const(kw.value, False):
        return _NONE
    name = _name(node, ctx)
    if not name.startswith(("requests.", "httpx.")) and _method(name) not in _HTTP_METHODS:
        return _NONE
    edit = _call_edit(node, ctx)
    fix = None
    if edit is not None:
        fix = _remove_item(edit, node, kw).fix("drop verify=False: verify TLS certificates")
    return _hit(node, f"{name}(verify=False) accepts any server's certificate", fix=fix)


_WEAK_EC = frozenset({"SECP192R1", "SECT163K1", "SECT163R2", "SECP160R1", "SECT113R1"})


def _check_weak_key(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    size: ast.expr | None = None
    if name.endswith(".rsa.generate_private_key") and name.startswith("cryptography."):
        size = _arg(node, 1, "key_size")
    elif name.endswith(".dsa.generate_private_key") and name.startswith("cryptography."):
        size = _arg(node, 0, "key_size")
    elif name.endswith(".ec.generate_private_key") and name.startswith("cryptography."):
        curve = _arg(node, 0, "curve")
        qual = ""
        if isinstance(curve, ast.Call):
            qual = _name(curve, ctx)
        elif curve is not None:
            qual = ctx.qualname(curve) or ""
        if _method(qual) in _WEAK_EC:
            return _hit(node, f"elliptic curve {_method(qual)} is below 224 bits")
        return _NONE
    elif name in (
        "Crypto.PublicKey.RSA.generate",
        "Crypto.PublicKey.DSA.generate",
        "Cryptodome.PublicKey.RSA.generate",
        "Cryptodome.PublicKey.DSA.generate",
        "paramiko.RSAKey.generate",
        "paramiko.DSSKey.generate",
        "rsa.newkeys",
    ):
        size = _arg(node, 0, "bits", "nbits")
    else:
        return _NONE
    if isinstance(size, ast.Constant) and isinstance(size.value, int) and size.value < 2048:
        return _hit(node, f"{size.value}-bit RSA/DSA key is too short (use >= 2048)")
    return _NONE


# ----------------------------------------------------------------- processes

_SUBPROCESS = frozenset(
    f"subprocess.{f}" for f in ("Popen", "call", "run", "check_call", "check_output")
)
_SHELL_FUNCS = frozenset(
    {
        "os.system",
        "os.popen",
        "os.popen2",
        "os.popen3",
        "os.popen4",
        "popen2.popen2",
        "popen2.popen3",
        "popen2.popen4",
        "popen2.Popen3",
        "popen2.Popen4",
        "commands.getoutput",
        "commands.getstatusoutput",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_shell",
    }
)
_NOSHELL_FUNCS = frozenset(
    [f"os.exec{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")]
    + [f"os.spawn{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")]
    + ["os.startfile", "os.posix_spawn", "os.posix_spawnp"]
)


def _shell_kw(node: ast.Call) -> ast.keyword | None:
    kw = _kw(node, "shell")
    if kw is None or _is_const(kw.value, False) or _is_const(kw.value, None):
        return None
    if isinstance(kw.value, ast.Constant) and not kw.value.value:
        return None
    return kw


_SHELL_META = re.compile(r"[|&;<>()$`\\*?\[\]{}~!#\n]")


def _shell_fix(node: ast.Call, kw: ast.keyword, ctx: PyContext) -> Fix | None:
    command = _plain_str(node.args[0]) if node.args else None
    if command is None or _SHELL_META.search(command):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or "=" in words[0]:
        return None
    edit = _call_edit(node, ctx)
    if edit is None:
        return None
    edit.replace_node(node.args[0], "[" + ", ".join(repr(w) for w in words) + "]")
    return _remove_item(edit, node, kw).fix("pass an argument list and drop shell=True")


def _check_subprocess_shell(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in _SUBPROCESS:
        return _NONE
    kw = _shell_kw(node)
    if kw is None:
        return _NONE
    command = _arg(node, 0, "args")
    fix = _shell_fix(node, kw, ctx)
    if command is not None and ctx.is_tainted(command):
        return _hit(
            node, "user input reaches a shell command (shell=True)", severity=Severity.CRITICAL
        )
    return _hit(node, "subprocess with shell=True runs the command through a shell", fix=fix)


def _check_other_shell(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    kw = _kw(node, "shell")
    if kw is None or not _is_const(kw.value, True):
        return _NONE
    name = _name(node, ctx)
    if name in _SUBPROCESS:
        return _NONE
    return _hit(node, f"{name or 'call'}(shell=True) probably runs a shell")


def _check_subprocess_noshell(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in _SUBPROCESS or _shell_kw(node) is not None:
        return _NONE
    command = _arg(node, 0, "args")
    if command is None or _lit(command):
        return _NONE
    if ctx.is_tainted(command):
        return _hit(node, "user input chooses the program or its arguments", severity=Severity.HIGH)
    return _hit(node, "subprocess runs a command that is built at run time")


def _check_start_shell(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _SHELL_FUNCS:
        return _NONE
    command = _arg(node, 0, "cmd", "command")
    if command is not None and ctx.is_tainted(command):
        return _hit(node, f"user input reaches {name}()", severity=Severity.CRITICAL)
    if command is not None and not _lit(command):
        return _hit(node, f"{name}() runs a computed command in a shell", severity=Severity.HIGH)
    return _hit(node, f"{name}() runs its command through a shell")


def _check_start_noshell(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _NOSHELL_FUNCS:
        return _NONE
    return _hit(node, f"{name}() starts a new program")


def _executable(node: ast.Call, name: str) -> str | None:
    """The literal program a process-starting call runs, if it is a literal."""
    if _kw(node, "executable") is not None:
        return None
    if name in _SUBPROCESS or name in _SHELL_FUNCS:
        first = _arg(node, 0, "args", "cmd", "command")
        if isinstance(first, ast.List | ast.Tuple) and first.elts:
            return _plain_str(first.elts[0])
        text = _plain_str(first)
        if text is None:
            return None
        if name in _SUBPROCESS and _shell_kw(node) is None:
            return text
        words = text.split()
        return words[0] if words else None
    if name in _NOSHELL_FUNCS:
        index = 1 if ".spawn" in name else 0
        return _plain_str(_arg(node, index, "path", "file"))
    return None


def _check_partial_path(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _SUBPROCESS and name not in _SHELL_FUNCS and name not in _NOSHELL_FUNCS:
        return _NONE
    program = _executable(node, name)
    if not program or "=" in program:
        return _NONE
    if program.startswith(("/", "./", "../", "~", "\\")) or re.match(r"[A-Za-z]:[\\/]", program):
        return _NONE
    return _hit(node, f"program {program!r} is found through PATH (partial path)")


_WILDCARD = re.compile(r"\b(?:chown|chmod|tar|rsync)\b[^|;&\n]*\*")


def _shell_text(node: ast.Call, ctx: PyContext) -> str | None:
    """The literal command string a shell-running call gets, if any."""
    name = _name(node, ctx)
    if name in _SHELL_FUNCS or (name in _SUBPROCESS and _shell_kw(node) is not None):
        return _fold(_arg(node, 0, "args", "cmd", "command"))
    if name in _SUBPROCESS:
        first = _arg(node, 0, "args")
        if isinstance(first, ast.List | ast.Tuple):
            texts = [_plain_str(e) for e in first.elts]
            if len(texts) >= 3 and texts[1] == "-c" and (texts[0] or "").endswith("sh"):
                return texts[2]
    return None


def _check_wildcard(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    text = _shell_text(node, ctx)
    if text is None or "*" not in text or not _WILDCARD.search(text):
        return _NONE
    return _hit(node, "shell wildcard expands file names into command options")


_DOWNLOAD = (
    r"(?:curl|wget|fetch|aria2c|iwr|irm|invoke-webrequest|invoke-restmethod|"
    r"python[0-9.]*\s+-c\s+[^|]*urllib)"
)
_PIPE_TO_SHELL = re.compile(
    rf"(?is)\b{_DOWNLOAD}\b[^;\n]*?\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?"
    r"(?:(?:ba|z|k|da|fi)?sh|python[0-9.]*|perl|ruby|node|iex|invoke-expression|pwsh|powershell)\b"
    rf"|(?:(?:ba|z|k|da)?sh|source|\.)\s+(?:-c\s+)?[\"']?(?:<\(|\$\()\s*{_DOWNLOAD}\b"
    r"|\biex\s*\(\s*(?:iwr|irm|invoke-webrequest|invoke-restmethod|new-object\s+net\.webclient)"
)


def _check_pipe_to_shell(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    text = _shell_text(node, ctx)
    if text is None or not _PIPE_TO_SHELL.search(text):
        return _NONE
    return _hit(node, "downloaded script piped straight into an interpreter")


# ----------------------------------------------------------------- SQL

_SQL = re.compile(
    r"(?is)^\s*\(?\s*(?:select\s.*\bfrom\b|insert\s+(?:or\s+\w+\s+)?into\s|update\s+\S+\s+set\s|"
    r"delete\s+from\s|with\s+\w+\s+as\s*\(|create\s+(?:temp\w*\s+)?(?:table|index|view)\s|"
    r"drop\s+(?:table|index|view)\s|alter\s+table\s|replace\s+into\s|merge\s+into\s|"
    r"truncate\s|pragma\s)"
)
_SQL_SINK_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "mogrify",
        "read_sql",
        "read_sql_query",
        "exec_driver_sql",
        "raw",
    }
)
_SQL_SINK_FUNCS = frozenset(
    {"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text"}
)


def _template(node: ast.AST) -> tuple[str, bool] | None:
    """A string expression as a template with holes, and whether it has any hole."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, False
    if isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.Constant) else "?" for v in node.values]
        return "".join(str(p) for p in parts), any(
            isinstance(v, ast.FormattedValue) for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        left = left or ("?", True)
        right = right or ("?", True)
        return left[0] + right[0], left[1] or right[1]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left = _template(node.left)
        if left is None:
            return None
        return left[0], left[1] or not _lit(node.right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        base = _template(node.func.value)
        if base is None:
            return None
        return base[0], base[1] or bool(node.args or node.keywords)
    return None


def _built_sql(node: ast.AST, sql_names: Iterable[str] = ()) -> bool:
    if isinstance(node, ast.Name):
        return node.id in sql_names
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add)
        and isinstance(node.left, ast.Name)
        and node.left.id in sql_names
    ):
        return True
    shape = _template(node)
    return shape is not None and shape[1] and bool(_SQL.match(shape[0]))


def _check_sql(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _SQL_SINK_FUNCS and (
        not isinstance(node.func, ast.Attribute) or node.func.attr not in _SQL_SINK_METHODS
    ):
        return _NONE
    query = _arg(node, 0, "sql", "query", "statement", "operation", "raw_query")
    if query is None or _lit(query):
        return _NONE
    names: frozenset[str] = frozenset()
    if isinstance(query, ast.Name):
        names = _facts(ctx).sql(ctx)
    if not _built_sql(query, names):
        return _NONE
    if ctx.is_tainted(query):
        return _hit(node, "user input is formatted into an SQL query", severity=Severity.CRITICAL)
    return _hit(node, "SQL query built by string formatting; use bound parameters")


def _check_django_extra(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if not isinstance(node.func, ast.Attribute) or node.func.attr != "extra":
        return _NONE
    name = _name(node, ctx)
    if "django" not in _facts(ctx).roots(ctx) and ".objects." not in name:
        return _NONE
    if all(_lit(a) for a in node.args) and all(_lit(k.value) for k in node.keywords):
        return _NONE
    return _hit(node, "QuerySet.extra() with computed SQL")


def _check_rawsql(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if not name.startswith("django.") or _method(name) != "RawSQL":
        return _NONE
    sql = _arg(node, 0, "sql")
    if sql is None or _lit(sql):
        return _NONE
    return _hit(node, "RawSQL() with computed SQL")


# ----------------------------------------------------------------- templates / XSS


def _check_jinja_env(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in ("jinja2.Environment", "jinja2.environment.Environment"):
        return _NONE
    kw = _kw(node, "autoescape")
    description = "turn HTML autoescaping on"
    if kw is None:
        if _has_kwargs(node):
            return _NONE
        fix = _add_kw_fix(node, ctx, "autoescape=True", description)
        return _hit(node, "jinja2 Environment without autoescape (off by default)", fix=fix)
    if _is_const(kw.value, False):
        fix = _kw_value_fix(node, kw, ctx, "True", description)
        return _hit(node, "jinja2 Environment(autoescape=False) allows XSS", fix=fix)
    return _NONE


def _check_jinja_template(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in ("jinja2.Template", "jinja2.environment.Template"):
        return _NONE
    kw = _kw(node, "autoescape")
    if kw is not None and not _is_const(kw.value, False):
        return _NONE
    return _hit(node, "jinja2.Template() renders without autoescaping")


def _check_mako(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in ("mako.template.Template", "mako.lookup.TemplateLookup"):
        return _NONE
    filters = _kw(node, "default_filters")
    if (
        filters is not None
        and isinstance(filters.value, ast.List | ast.Tuple)
        and any(_plain_str(e) == "h" for e in filters.value.elts)
    ):
        return _NONE
    return _hit(node, "mako templates do not escape HTML by default")


# ----------------------------------------------------------------- weak randomness

_RANDOM = frozenset(
    f"random.{f}"
    for f in (
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "sample",
        "shuffle",
        "uniform",
        "getrandbits",
        "randbytes",
        "triangular",
    )
)


@functools.lru_cache(maxsize=4096)  # a pure function of the name: memoized, not state
def _random_secret_name(name: str) -> bool:
    norm = _CAMEL.sub(r"\1_\2", name).lower()
    return _secret_name(name) or bool(_RANDOM_SECRET.search(norm))


def _random_in_secret_assignment(node: ast.AST, ctx: PyContext) -> list[ast.Call] | None:
    if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
        return None
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [_target_name(t) for t in targets]
    if not any(n is not None and _random_secret_name(n) for n in names):
        return None
    calls = [
        sub
        for sub in ast.walk(node.value)
        if isinstance(sub, ast.Call) and _name(sub, ctx) in _RANDOM
    ]
    return calls or None


def _check_random_secret(node: ast.AST, ctx: PyContext) -> Iterable[Hit]:
    calls = _random_in_secret_assignment(node, ctx)
    if not calls:
        return _NONE
    return [Hit(call, "random module makes a guessable secret; use secrets") for call in calls]


def _check_random(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in _RANDOM or id(node) in _facts(ctx).secret_random(ctx):
        return _NONE
    return _hit(node, "random is not a cryptographic generator")


# ----------------------------------------------------------------- XML

_ET = frozenset(
    f"xml.etree.{mod}.{fn}"
    for mod in ("ElementTree", "cElementTree")
    for fn in (
        "parse",
        "iterparse",
        "fromstring",
        "fromstringlist",
        "XML",
        "XMLParser",
        "XMLPullParser",
    )
)
_MINIDOM = frozenset(
    f"xml.dom.{mod}.{fn}"
    for mod in ("minidom", "pulldom", "expatbuilder")
    for fn in ("parse", "parseString")
)
_SAX = frozenset(
    {
        "xml.sax.parse",
        "xml.sax.parseString",
        "xml.sax.make_parser",
        "xml.sax.expatreader.create_parser",
        "xml.parsers.expat.ParserCreate",
    }
)
_LXML = frozenset(
    f"lxml.etree.{fn}"
    for fn in ("parse", "fromstring", "XML", "XMLParser", "iterparse", "RestrictedElement")
)


def _xml_check(names: frozenset[str], library: str) -> Check:
    def check(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
        name = _name(node, ctx)
        if name not in names:
            return _NONE
        if node.args and isinstance(node.args[0], ast.Constant):
            return _NONE  # a literal document is not untrusted data
        if library == "lxml":
            if _kw(node, "parser") is not None:
                return _NONE
            if _is_const(_arg(node, 99, "resolve_entities"), False):
                return _NONE
        return _hit(node, f"{name}() parses XML without entity protections; use defusedxml")

    return check


# ----------------------------------------------------------------- paramiko / HF


def _check_paramiko_exec(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if not isinstance(node.func, ast.Attribute) or node.func.attr != "exec_command":
        return _NONE
    if "paramiko" not in _facts(ctx).roots(ctx):
        return _NONE
    command = _arg(node, 0, "command")
    if command is None or _lit(command):
        return _NONE
    if ctx.is_tainted(command):
        return _hit(node, "user input reaches a remote shell", severity=Severity.CRITICAL)
    return _hit(node, "computed command runs in a remote shell")


def _check_host_key_policy(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _method(_name(node, ctx)) != "set_missing_host_key_policy" or not node.args:
        return _NONE
    policy = node.args[0]
    qual = _name(policy, ctx) if isinstance(policy, ast.Call) else ctx.qualname(policy) or ""
    if _method(qual) in ("AutoAddPolicy", "WarningPolicy"):
        return _hit(node, f"{_method(qual)} accepts unknown SSH host keys")
    return _NONE


_HF_FUNCS = frozenset(
    {
        "huggingface_hub.hf_hub_download",
        "huggingface_hub.snapshot_download",
        "huggingface_hub.file_download.hf_hub_download",
        "datasets.load_dataset",
    }
)
_HF_BUILTIN_DATASETS = frozenset(
    {
        "csv",
        "json",
        "parquet",
        "text",
        "imagefolder",
        "audiofolder",
        "arrow",
        "pandas",
        "webdataset",
    }
)
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


def _check_hf_revision(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _HF_FUNCS and _method(name) != "from_pretrained":
        return _NONE
    source = _plain_str(_arg(node, 0, "pretrained_model_name_or_path", "repo_id", "path"))
    if source is not None and (
        source.startswith((".", "/", "~")) or source in _HF_BUILTIN_DATASETS
    ):
        return _NONE
    kw = _kw(node, "revision")
    if kw is None:
        if _has_kwargs(node):
            return _NONE
        return _hit(node, f"{_method(name)}() downloads without a pinned revision")
    text = _plain_str(kw.value)
    if text is not None and not _COMMIT.fullmatch(text):
        return _hit(node, f"revision={text!r} is a movable name, not a commit hash")
    return _NONE


def _check_remote_code(node: ast.Call, _ctx: PyContext) -> Iterable[Hit]:
    kw = _kw(node, "trust_remote_code")
    if kw is None or not _is_const(kw.value, True):
        return _NONE
    return _hit(node, "trust_remote_code=True runs Python code shipped with the model")


# ----------------------------------------------------------------- path traversal

_SANITIZERS = frozenset(
    {
        "os.path.basename",
        "werkzeug.utils.secure_filename",
        "werkzeug.secure_filename",
        "secure_filename",
        "int",
        "float",
        "uuid.UUID",
    }
)
_OPEN_FUNCS = frozenset(
    {
        "open",
        "builtins.open",
        "io.open",
        "codecs.open",
        "os.open",
        "io.FileIO",
        "os.remove",
        "os.unlink",
        "shutil.rmtree",
        "flask.send_file",
        "flask.helpers.send_file",
        "django.http.FileResponse",
    }
)
_PATH_METHODS = frozenset(
    {"read_text", "write_text", "read_bytes", "write_bytes", "open", "unlink", "rmdir"}
)
_JOIN_FUNCS = frozenset({"os.path.join", "posixpath.join", "ntpath.join", "pathlib.Path"})
_JOIN_FUNCS |= frozenset({"pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath"})


def _is_join(node: ast.AST, ctx: PyContext, joined: Iterable[str] = ()) -> bool:
    if isinstance(node, ast.Name):
        return node.id in joined
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.Add | ast.Div | ast.Mod)
    if isinstance(node, ast.Call):
        name = _name(node, ctx)
        if name in _JOIN_FUNCS or _method(name) in ("joinpath", "format"):
            return True
        if _method(name) in ("resolve", "absolute", "expanduser") and isinstance(
            node.func, ast.Attribute
        ):
            return _is_join(node.func.value, ctx, joined)
    return False


def _tainted_path(node: ast.AST, ctx: PyContext, sanitized: frozenset[str]) -> bool:
    if isinstance(node, ast.Call) and _name(node, ctx) in _SANITIZERS:
        return False
    if isinstance(node, ast.Attribute) and node.attr in ("name", "stem"):
        return False
    if isinstance(node, ast.Name):
        return node.id not in sanitized and ctx.is_tainted(node)
    if (
        isinstance(node, ast.Attribute | ast.Subscript)
        and ctx.is_tainted(node)
        and not any(
            isinstance(sub, ast.Call) and _name(sub, ctx) in _SANITIZERS for sub in ast.walk(node)
        )
    ):
        return True
    if isinstance(node, ast.Call) and ctx.is_tainted(node.func):
        return True
    return any(_tainted_path(child, ctx, sanitized) for child in ast.iter_child_nodes(node))


def _check_path_traversal(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name in _OPEN_FUNCS:
        path = _arg(node, 0, "file", "path", "filename", "path_or_file", "name")
    elif isinstance(node.func, ast.Attribute) and node.func.attr in _PATH_METHODS:
        path = node.func.value
    else:
        return _NONE
    if path is None or _lit(path) or not ctx.is_tainted(path):
        return _NONE
    facts = _facts(ctx)
    if not _is_join(path, ctx, facts.joined(ctx)):
        return _NONE
    if not _tainted_path(path, ctx, facts.sanitized(ctx)):
        return _NONE
    return _hit(node, "user input is joined into a file path (path traversal)")


# ----------------------------------------------------------------- obfuscation

_DANGEROUS_ATTRS = frozenset(
    {
        "system",
        "popen",
        "Popen",
        "call",
        "run",
        "check_output",
        "check_call",
        "getoutput",
        "spawnl",
        "spawnv",
        "execl",
        "execv",
        "execve",
        "execvp",
        "eval",
        "exec",
        "compile",
        "__import__",
        "import_module",
        "loads",
        "load",
        "remove",
        "unlink",
        "rmtree",
        "urlopen",
        "connect",
        "getattr",
        "setattr",
        "open",
    }
)
_IMPORTERS = frozenset({"__import__", "builtins.__import__", "importlib.import_module"})
_IMPORTERS |= frozenset({"importlib.__import__"})
_BUILTINS = frozenset({"__builtins__", "builtins"})


def _module_like(node: ast.AST, ctx: PyContext) -> bool:
    if isinstance(node, ast.Name):
        if node.id in _BUILTINS:
            return True
        target = ctx.aliases.get(node.id)
        # modules are lower_case; an imported CapWords name is a class or enum
        return target is not None and _method(target).islower()
    if isinstance(node, ast.Call):
        return _name(node, ctx) in _IMPORTERS
    if isinstance(node, ast.Subscript):
        return ctx.qualname(node.value) == "sys.modules"
    return False


def _check_getattr(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in ("getattr", "builtins.getattr") or len(node.args) < 2:
        return _NONE
    obj, attr = node.args[0], node.args[1]
    if not _module_like(obj, ctx):
        return _NONE
    folded = _fold(attr)
    dangerous = folded is not None and folded in _DANGEROUS_ATTRS
    computed = not isinstance(attr, ast.Constant)
    via_import = isinstance(obj, ast.Call)
    if not (computed or dangerous or via_import):
        return _NONE
    label = f"{folded!r}" if folded is not None else "a computed name"
    message = f"getattr() looks up {label} on a module"
    return _hit(node, message, severity=Severity.HIGH if dangerous else None)


def _check_dynamic_import(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name in _IMPORTERS:
        module = _arg(node, 0, "name")
        if module is None or isinstance(module, ast.Constant):
            return _NONE
        severity = Severity.HIGH if ctx.is_tainted(module) else None
        return _hit(node, f"{name}() imports a module named at run time", severity=severity)
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and _name(func.value, ctx) in ("__import__", "builtins.__import__")
    ):
        return _hit(node, f"__import__(...).{func.attr}() hides which function is called")
    return _NONE


def _check_builtins_dict(node: ast.Subscript, ctx: PyContext) -> Iterable[Hit]:
    if not isinstance(node.ctx, ast.Load):
        return _NONE
    value = node.value
    hit = False
    if isinstance(value, ast.Name):
        hit = value.id == "__builtins__"
    elif isinstance(value, ast.Attribute):
        hit = value.attr == "__dict__" and (ctx.qualname(value.value) or "") in _BUILTINS
    elif isinstance(value, ast.Call) and value.args:
        hit = _name(value, ctx) == "vars" and (ctx.qualname(value.args[0]) or "") in _BUILTINS
    if not hit:
        return _NONE
    return _hit(node, "builtins looked up by key hides which function is called")


def _check_namespace_key(node: ast.Subscript, ctx: PyContext) -> Iterable[Hit]:
    if not isinstance(node.ctx, ast.Load):
        return _NONE
    value = node.value
    if isinstance(value, ast.Call):
        name = _name(value, ctx)
        if name not in ("globals", "locals", "vars"):
            return _NONE
        if name == "vars" and value.args and (ctx.qualname(value.args[0]) or "") in _BUILTINS:
            return _NONE  # GRC-PY-073 reports builtins lookups
    elif isinstance(value, ast.Attribute) and value.attr == "__dict__":
        if not isinstance(value.value, ast.Name) or value.value.id not in ctx.aliases:
            return _NONE
    else:
        return _NONE
    key = node.slice
    folded = _fold(key)
    if isinstance(key, ast.Constant) and folded not in _DANGEROUS_ATTRS:
        return _NONE
    label = repr(folded) if folded is not None else "a computed key"
    return _hit(node, f"namespace lookup of {label} hides which object is used")


_DECODERS = frozenset(
    [
        f"base64.{f}"
        for f in (
            "b64decode",
            "b32decode",
            "b16decode",
            "a85decode",
            "b85decode",
            "standard_b64decode",
            "urlsafe_b64decode",
            "decodebytes",
            "decodestring",
        )
    ]
    + ["codecs.decode", "zlib.decompress", "gzip.decompress", "bz2.decompress"]
    + ["lzma.decompress", "marshal.loads", "binascii.unhexlify", "binascii.a2b_base64"]
    + ["binascii.a2b_hex", "bytes.fromhex", "bytearray.fromhex", "chr"]
)
_FETCHERS = ("requests.", "httpx.", "urllib.request.urlopen", "urllib2.urlopen", "urllib.urlopen")


def _check_exec_decoded(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _CODE_RUNNERS and name != "types.FunctionType":
        return _NONE
    if not node.args or _lit(node.args[0]):
        return _NONE
    for sub in ast.walk(node.args[0]):
        if isinstance(sub, ast.Call):
            inner = _name(sub, ctx)
            if inner in _DECODERS:
                return _hit(node, f"{name}() runs code decoded at run time ({inner})")
            if inner.startswith(_FETCHERS):
                return _hit(node, f"{name}() runs code downloaded at run time ({inner})")
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Slice):
            step = sub.slice.step
            if isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub):
                return _hit(node, f"{name}() runs a reversed string")
    return _NONE


def _check_methodcaller(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in ("operator.methodcaller", "operator.attrgetter") or not node.args:
        return _NONE
    first = node.args[0]
    folded = _fold(first)
    last = _method(folded) if folded is not None else None
    if isinstance(first, ast.Constant) and last not in _DANGEROUS_ATTRS:
        return _NONE
    label = repr(folded) if folded is not None else "a computed name"
    return _hit(node, f"{name}({label}) calls a function chosen indirectly")


# ----------------------------------------------------------------- network egress

_HTTP_URL_FIRST = frozenset(
    {f"requests.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options")}
    | {f"httpx.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options")}
    | {"urllib.request.urlopen", "urllib.request.Request", "urllib.request.urlretrieve"}
    | {"urllib.urlopen", "urllib2.urlopen", "urllib2.Request", "urllib.urlretrieve"}
)
_HTTP_URL_SECOND = frozenset({"requests.request", "httpx.request", "httpx.stream"})


def _host_prefix(node: ast.AST, consts: dict[str, str]) -> str | None:
    """The constant text of a URL up to its first computed part (None: fully unknown)."""
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        out = ""
        for value in node.values:
            if isinstance(value, ast.Constant):
                out += str(value.value)
            elif isinstance(value, ast.FormattedValue):
                inner = _host_prefix(value.value, consts)
                if inner is None:
                    return out + "\0"
                out += inner
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _host_prefix(node.left, consts)
        if left is None:
            return "\0"
        if "\0" in left:
            return left
        right = _host_prefix(node.right, consts)
        return left + (right if right is not None else "\0")
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        base = _host_prefix(node.func.value, consts)
        return None if base is None else base.split("{", 1)[0] + "\0"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        base = _host_prefix(node.left, consts)
        return None if base is None else base.split("%", 1)[0] + "\0"
    return None


def _host_computed(prefix: str) -> bool:
    if "\0" not in prefix:
        return False
    known = prefix.split("\0", 1)[0]
    if "://" not in known:
        return True
    authority = known.split("://", 1)[1]
    return not any(ch in authority for ch in "/?#")


def _check_http_egress(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name in _HTTP_URL_FIRST:
        url = _arg(node, 0, "url")
    elif name in _HTTP_URL_SECOND:
        url = _arg(node, 1, "url")
    else:
        return _NONE
    if url is None or isinstance(url, ast.Constant):
        return _NONE
    if ctx.is_tainted(url):
        return _hit(node, "user input chooses where this request goes", severity=Severity.HIGH)
    prefix = _host_prefix(url, _facts(ctx).consts(ctx))
    if prefix is None or not _host_computed(prefix):
        return _NONE
    return _hit(node, "request goes to a host computed at run time")


def _check_socket_egress(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    host: ast.expr | None = None
    if name == "socket.create_connection":
        address = _arg(node, 0, "address")
        if isinstance(address, ast.Tuple) and address.elts:
            host = address.elts[0]
    elif name in (
        "asyncio.open_connection",
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
    ):
        host = _arg(node, 0, "host")
    elif (
        _method(name) in ("connect", "connect_ex")
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Tuple)
        and node.args[0].elts
    ):
        host = node.args[0].elts[0]
    if host is None or _lit(host):
        return _NONE
    if isinstance(host, ast.Name) and host.id in _facts(ctx).consts(ctx):
        return _NONE
    if ctx.is_tainted(host):
        return _hit(node, "user input chooses which host to connect to", severity=Severity.HIGH)
    return _hit(node, "socket connects to a host computed at run time")


# ----------------------------------------------------------------- notebook (IPython)

_SYSTEM = frozenset({"get_ipython().system", "get_ipython().getoutput"})
_SHELL_MAGICS = frozenset({"bash", "sh", "script", "zsh", "system", "sx", "powershell", "pwsh"})


def _ipython_shell(node: ast.Call, ctx: PyContext) -> tuple[str, str] | None:
    """(kind, command) for ``!cmd`` / ``%%bash`` / ``%sx`` in transformed code."""
    name = _name(node, ctx)
    if name in _SYSTEM and node.args:
        text = _plain_str(node.args[0])
        return None if text is None else ("system", text)
    if name == "get_ipython().run_cell_magic" and len(node.args) >= 3:
        magic = _plain_str(node.args[0])
        body = _plain_str(node.args[2])
        if magic in _SHELL_MAGICS and body is not None:
            return "cell", body
    if name == "get_ipython().run_line_magic" and len(node.args) >= 2:
        magic = _plain_str(node.args[0])
        text = _plain_str(node.args[1])
        if magic in ("sx", "system") and text is not None:
            return "system", text
    return None


def _check_nb_pipe(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    shell = _ipython_shell(node, ctx)
    if shell is None or not _PIPE_TO_SHELL.search(shell[1]):
        return _NONE
    return _hit(node, "downloaded script piped into a shell from a notebook cell")


_PIP_VALUE_OPTS = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--upgrade-strategy",
        "--python-version",
        "--platform",
        "--implementation",
        "--abi",
        "--only-binary",
        "--no-binary",
        "--progress-bar",
        "--log",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--config-settings",
        "-C",
        "--global-option",
        "--report",
        "--python",
        "-n",
        "--name",
        "-p",
    }
)
_PIP_INDEX_OPTS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host"}
)
_CONDA_CHANNEL_OPTS = frozenset({"-c", "--channel"})
_VCS = ("git+", "hg+", "svn+", "bzr+")


def _install_command(node: ast.Call, ctx: PyContext) -> tuple[str, list[str]] | None:
    """(tool, words after 'install') for %pip / %conda / !pip install cells."""
    name = _name(node, ctx)
    text: str | None = None
    tool = ""
    if name == "get_ipython().run_line_magic" and len(node.args) >= 2:
        magic = _plain_str(node.args[0]) or ""
        if magic in ("pip", "conda", "mamba", "micromamba"):
            tool, text = magic, _plain_str(node.args[1])
    elif name in _SYSTEM and node.args:
        text = _plain_str(node.args[0])
        if text is not None:
            match = re.match(
                r"\s*(?:\S*python[0-9.]*\s+-m\s+)?(pip3?|conda|mamba|uv\s+pip)\s", text
            )
            if match is None:
                return None
            tool = "conda" if match.group(1) in ("conda", "mamba") else "pip"
            text = text[match.end() :]
    if text is None:
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if not words or words[0] != "install":
        return None
    return ("conda" if tool in ("conda", "mamba", "micromamba") else "pip"), words[1:]


def _parse_install(tool: str, words: list[str]) -> tuple[list[str], list[str]]:
    """(package specs, risky sources) of an install command."""
    packages: list[str] = []
    risky: list[str] = []
    skip_next = False
    for i, word in enumerate(words):
        if skip_next:
            skip_next = False
            continue
        option = word.split("=", 1)[0]
        if word.startswith("-"):
            has_value = "=" in word
            if option in _PIP_INDEX_OPTS and tool == "pip":
                risky.append(word if has_value else f"{word} {words[i + 1 : i + 2]}")
            elif option in _CONDA_CHANNEL_OPTS and tool == "conda":
                value = word.split("=", 1)[1] if has_value else " ".join(words[i + 1 : i + 2])
                if "://" in value:
                    risky.append(f"{word} {value}")
            elif option in ("-e", "--editable"):
                value = word.split("=", 1)[1] if has_value else " ".join(words[i + 1 : i + 2])
                if "://" in value or value.startswith(_VCS):
                    risky.append(value)
            if not has_value and (
                option in _PIP_VALUE_OPTS
                or option in _PIP_INDEX_OPTS
                or (tool == "conda" and option in _CONDA_CHANNEL_OPTS)
            ):
                skip_next = True
            continue
        if "://" in word or word.startswith(_VCS) or word == "@":
            risky.append(word)
            continue
        packages.append(word)
    return packages, risky


def _unpinned(tool: str, spec: str) -> bool:
    if spec.startswith((".", "/", "~", "$", "{")) or spec.endswith((".whl", ".tar.gz", ".zip")):
        return False
    if "==" in spec or "@" in spec:
        return False
    return not (tool == "conda" and re.search(r"[^<>!=]=[^=]", spec))


def _check_nb_unpinned(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    command = _install_command(node, ctx)
    if command is None:
        return _NONE
    tool, words = command
    packages, _ = _parse_install(tool, words)
    loose = [p for p in packages if _unpinned(tool, p)]
    if not loose:
        return _NONE
    return _hit(node, f"{tool} install without a pinned version: {', '.join(loose)}")


def _check_nb_index(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    command = _install_command(node, ctx)
    if command is None:
        return _NONE
    tool, words = command
    _, risky = _parse_install(tool, words)
    if not risky:
        return _NONE
    return _hit(node, f"{tool} install from a non-default source: {', '.join(risky)}")


_ENV_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL")


def _check_nb_env_secret(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) != "get_ipython().run_line_magic" or len(node.args) < 2:
        return _NONE
    if _plain_str(node.args[0]) not in ("env", "set_env"):
        return _NONE
    text = (_plain_str(node.args[1]) or "").strip()
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\s*=\s*|\s+)(.*)", text, re.S)
    if match is None:
        return _NONE
    name, value = match.group(1), match.group(2).strip().strip("\"'")
    if not _ENV_SECRET.search(name.upper()) or not value or value.startswith(("$", "{")):
        return _NONE
    if _PLACEHOLDER_SHAPE.fullmatch(value):
        return _NONE
    return _hit(node, f"%env stores a secret for {name} in the notebook")


_INTERPOLATION = re.compile(r"(?<!\$)\$([A-Za-z_]\w*)|(?<!\{)\{([^{}\n]+)\}(?!\})")


def _check_nb_interpolation(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) not in _SYSTEM or not node.args:
        return _NONE
    text = _plain_str(node.args[0])
    if text is None or ("$" not in text and "{" not in text):
        return _NONE
    expressions = [m.group(1) or m.group(2) for m in _INTERPOLATION.finditer(text)]
    if not expressions:
        return _NONE
    for expression in expressions:
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except SyntaxError:
            continue
        if ctx.is_tainted(tree.body):
            return _hit(
                node,
                f"user input {expression.strip()!r} is expanded into a shell command",
                severity=Severity.CRITICAL,
            )
    return _hit(node, "Python values are expanded unquoted into a shell command")


# ----------------------------------------------------------------- trojan source

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _check_bidi(_node: ast.AST, ctx: PyContext) -> Iterable[Hit]:
    match = _BIDI.search(ctx.source)
    if match is None:
        return _NONE
    line = ctx.source.count("\n", 0, match.start()) + 1
    col = match.start() - (ctx.source.rfind("\n", 0, match.start()) + 1)
    text = ctx.line(line)
    byte_col = len(text[:col].encode("utf-8"))
    marker = ast.Constant(
        value="",
        lineno=line,
        col_offset=byte_col,
        end_lineno=line,
        end_col_offset=byte_col + 3,
    )
    return _hit(marker, f"bidirectional control character U+{ord(match.group()):04X} in source")


# ----------------------------------------------------------------- registration

_CALL = (ast.Call,)
_IMPORT = (ast.Import, ast.ImportFrom)

_CHECKS: tuple[tuple[str, tuple[type[ast.AST], ...], Check], ...] = (
    ("GRC-PY-001", _CALL, _code_check(_EVAL, "eval")),
    ("GRC-PY-002", _CALL, _code_check(_EXEC, "exec")),
    ("GRC-PY-003", _CALL, _code_check(_COMPILE, "compile")),
    ("GRC-PY-004", (ast.Assert,), _check_assert),
    ("GRC-PY-005", _CALL, _check_chmod),
    ("GRC-PY-006", _CALL, _check_bind_all),
    ("GRC-PY-007", (ast.Assign, ast.AnnAssign, ast.Compare, ast.Dict), _check_password_string),
    ("GRC-PY-008", _CALL, _check_password_kwarg),
    ("GRC-PY-009", (ast.FunctionDef, ast.AsyncFunctionDef), _check_password_default),
    ("GRC-PY-010", (ast.Constant,), _check_tmp),
    ("GRC-PY-011", (ast.ExceptHandler,), _swallow(ast.Pass)),
    ("GRC-PY-012", (ast.ExceptHandler,), _swallow(ast.Continue)),
    ("GRC-PY-013", _CALL, _check_requests_timeout),
    ("GRC-PY-014", _CALL, _check_flask_debug),
    ("GRC-PY-015", _CALL, _check_tar),
    ("GRC-PY-016", _CALL, _check_pickle),
    ("GRC-PY-017", _CALL, _calls(_MARSHAL, "{name}() can build code objects from bytes")),
    ("GRC-PY-018", _CALL, _check_torch),
    ("GRC-PY-019", _CALL, _check_yaml),
    ("GRC-PY-020", _CALL, _calls(_JSONPICKLE, "{name}() can run code from the data it decodes")),
    ("GRC-PY-021", _CALL, _check_hashlib),
    ("GRC-PY-022", _CALL, _calls(_WEAK_HASH_LIBS, "{name}() is a broken hash")),
    ("GRC-PY-023", _CALL, _calls(_WEAK_CIPHERS, "{name}() is a broken cipher")),
    ("GRC-PY-024", _CALL, _check_ecb),
    ("GRC-PY-025", _CALL, lambda node, ctx: _check_mktemp(node, ctx)),
    (
        "GRC-PY-026",
        _CALL,
        _calls_nonliteral(
            {"django.utils.safestring.mark_safe", "django.utils.html.mark_safe"},
            "{name}() marks computed text as safe HTML",
        ),
    ),
    (
        "GRC-PY-027",
        _CALL,
        _calls_nonliteral(
            {"markupsafe.Markup", "flask.Markup", "jinja2.Markup", "jinja2.utils.Markup"},
            "{name}() trusts computed text as HTML",
        ),
    ),
    ("GRC-PY-028", _CALL, lambda node, ctx: _check_urlopen(node, ctx)),
    ("GRC-PY-029", (ast.Assign, ast.AnnAssign), _check_random_secret),
    ("GRC-PY-030", _CALL, _check_random),
    ("GRC-PY-031", _CALL, _calls({"telnetlib.Telnet"}, "Telnet sends everything in clear text")),
    ("GRC-PY-032", _CALL, _calls({"ftplib.FTP"}, "FTP sends credentials in clear text")),
    ("GRC-PY-033", _CALL, _xml_check(_ET, "etree")),
    ("GRC-PY-034", _CALL, _xml_check(_MINIDOM, "dom")),
    ("GRC-PY-035", _CALL, _xml_check(_SAX, "sax")),
    ("GRC-PY-036", _CALL, _xml_check(_LXML, "lxml")),
    ("GRC-PY-037", _CALL, _check_unverified_context),
    ("GRC-PY-038", (ast.Attribute, ast.ImportFrom, ast.Assign), _check_cert_none),
    ("GRC-PY-039", (ast.Attribute, ast.ImportFrom), _check_bad_protocol),
    ("GRC-PY-040", _CALL, _check_wrap_socket),
    ("GRC-PY-041", (ast.Call, ast.Assign), _check_verify_false),
    ("GRC-PY-042", _CALL, _check_weak_key),
    ("GRC-PY-043", _CALL, _check_paramiko_exec),
    ("GRC-PY-044", _CALL, _check_host_key_policy),
    ("GRC-PY-045", _CALL, _check_subprocess_shell),
    ("GRC-PY-046", _CALL, _check_other_shell),
    ("GRC-PY-047", _CALL, _check_subprocess_noshell),
    ("GRC-PY-048", _CALL, _check_start_shell),
    ("GRC-PY-049", _CALL, _check_start_noshell),
    ("GRC-PY-050", _CALL, _check_partial_path),
    ("GRC-PY-051", _CALL, _check_sql),
    ("GRC-PY-052", _CALL, _check_wildcard),
    ("GRC-PY-053", _CALL, _check_django_extra),
    ("GRC-PY-054", _CALL, _check_rawsql),
    (
        "GRC-PY-055",
        _CALL,
        _calls({"logging.config.listen"}, "logging.config.listen() runs code sent to its port"),
    ),
    ("GRC-PY-056", (ast.Module,), _check_bidi),
    ("GRC-PY-057", _CALL, _check_jinja_env),
    ("GRC-PY-058", _CALL, _check_jinja_template),
    ("GRC-PY-059", _CALL, _check_mako),
    ("GRC-PY-060", _CALL, _check_hf_revision),
    ("GRC-PY-061", _CALL, _check_remote_code),
    ("GRC-PY-062", _IMPORT, _with_modules(["telnetlib"], "import of {name} (clear-text Telnet)")),
    ("GRC-PY-063", _IMPORT, _with_modules(["ftplib"], "import of {name} (clear-text FTP)")),
    (
        "GRC-PY-064",
        _IMPORT,
        _with_modules(
            ["pickle", "cPickle", "_pickle", "dill", "shelve", "cloudpickle"],
            "import of {name} (unsafe deserialization)",
        ),
    ),
    # No rule for a bare ``import subprocess`` (Bandit's B404): the import is not a
    # risk, and the calls that are (shell=True, computed commands, partial paths)
    # have rules of their own.  On the corpus it was the largest source of noise.
    (
        "GRC-PY-066",
        _IMPORT,
        _with_modules(
            [
                "xml.etree",
                "xml.sax",
                "xml.dom.minidom",
                "xml.dom.pulldom",
                "xml.dom.expatbuilder",
                "xml.parsers.expat",
            ],
            "import of {name} (XML parser without entity protections)",
        ),
    ),
    ("GRC-PY-067", _IMPORT, _with_modules(["lxml"], "import of {name} (XML entity expansion)")),
    ("GRC-PY-068", _IMPORT, _with_modules(["Crypto"], "import of {name} (unmaintained pyCrypto)")),
    (
        "GRC-PY-069",
        _IMPORT,
        _with_modules(
            ["xmlrpc", "xmlrpclib", "SimpleXMLRPCServer"], "import of {name} (XML-RPC parsing)"
        ),
    ),
    ("GRC-PY-070", _CALL, _check_path_traversal),
    ("GRC-PY-071", _CALL, _check_getattr),
    ("GRC-PY-072", _CALL, _check_dynamic_import),
    ("GRC-PY-073", (ast.Subscript,), _check_builtins_dict),
    ("GRC-PY-074", (ast.Subscript,), _check_namespace_key),
    ("GRC-PY-075", _CALL, _check_exec_decoded),
    ("GRC-PY-076", _CALL, _check_methodcaller),
    ("GRC-PY-077", _CALL, _check_http_egress),
    ("GRC-PY-078", _CALL, _check_socket_egress),
    ("GRC-PY-079", _CALL, _check_pipe_to_shell),
    ("GRC-NB-001", _CALL, _check_nb_pipe),
    ("GRC-NB-002", _CALL, _check_nb_unpinned),
    ("GRC-NB-003", _CALL, _check_nb_index),
    ("GRC-NB-004", _CALL, _check_nb_env_secret),
    ("GRC-NB-005", _CALL, _check_nb_interpolation),
)


def _check_mktemp(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    if _name(node, ctx) != "tempfile.mktemp":
        return _NONE
    fix = None
    edit = _call_edit(node, ctx)
    if edit is not None and isinstance(node.func, ast.Attribute):
        end = edit.end(node.func)
        edit.replace(end - len(node.func.attr), end, "mkstemp")
        line = ctx.line(node.lineno)
        before = line[: _char_col(line, node.col_offset)]
        match = re.fullmatch(r"(\s*)([A-Za-z_]\w*)(\s*=\s*)", before)
        if match is not None:
            edit.replace(
                0, len(before), f"{match.group(1)}{match.group(2)}_fd, {match.group(2)} = "
            )
            note = f"close {match.group(2)}_fd with os.close() when done"
        else:
            at = edit.end(node)
            edit.replace(at, at, "[1]")
            note = "mkstemp returns (fd, path); close the fd with os.close()"
        fix = edit.fix(f"create the file atomically with tempfile.mkstemp ({note})")
    return _hit(
        node, "tempfile.mktemp() is racy: another process can create the file first", fix=fix
    )


_URLOPEN = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "urllib.request.Request",
        "urllib.request.URLopener",
        "urllib.request.FancyURLopener",
        "urllib.urlopen",
        "urllib.urlretrieve",
        "urllib2.urlopen",
        "urllib2.Request",
        "six.moves.urllib.request.urlopen",
    }
)


def _check_urlopen(node: ast.Call, ctx: PyContext) -> Iterable[Hit]:
    name = _name(node, ctx)
    if name not in _URLOPEN:
        return _NONE
    url = _arg(node, 0, "url")
    if url is None:
        return _NONE
    text = _fold(url)
    if text is not None:
        if text.lower().startswith(("http://", "https://")):
            return _NONE
        return _hit(node, f"{name}() of {text[:40]!r} allows file:// and custom schemes")
    if ctx.is_tainted(url):
        return _hit(node, f"{name}() of user input can open any URL", severity=Severity.HIGH)
    prefix = _host_prefix(url, _facts(ctx).consts(ctx))
    if prefix is not None and prefix.lower().startswith(("http://", "https://")):
        return _NONE
    return _hit(node, f"{name}() of a computed URL also opens file:// URLs")


def register_python_rules(registry: RuleRegistry) -> None:
    """Attach every Python check to its rule id (metadata comes from python.yaml)."""
    for rule_id, node_types, check in _CHECKS:
        registry.add_check(rule_id, node_types, check)


def rule_ids() -> tuple[str, ...]:
    """Every rule id this module registers a check for."""
    return tuple(rule_id for rule_id, _, _ in _CHECKS)
