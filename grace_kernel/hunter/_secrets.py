"""Secrets: provider formats in one regex pass, plus an entropy detector.

:class:`SecretScanner` compiles every provider rule into ONE alternation and
walks a text with a single ``finditer``.  Each rule becomes a branch
``(?:rule)(?P<rN>)``: the empty named group at the end tags which rule
matched, the rule's own capturing groups are made non-capturing so that the
branch's first opcode stays a literal (the regex engine then skips
non-starting branches cheaply), and a leading lookahead over the set of
characters any rule can start with lets the engine skip most positions.  The
secret value (group 1) is then read by matching the rule's own regex at the
hit's start, a bounded re-match of the same branch, never a second scan.

Provider matches are filtered (public example keys, fixtures, placeholders);
a lower-confidence match (a generic ``password = "..."``) that contains a
provider token yields to the provider rule.  The entropy step measures
candidate tokens named by the ``inspects: secret-entropy`` rule, on lines of
at most :data:`MAX_ENTROPY_LINE` characters, and drops hashes, UUIDs, git
SHAs, fixtures and anything a provider rule already matched.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Any

from grace_kernel.errors import InputError
from grace_kernel.hunter._model import Confidence, RuleMeta
from grace_kernel.hunter._registry import SecretRule

__all__ = [
    "ENTROPY_INSPECTS",
    "KNOWN_TEST_VALUES",
    "MAX_ENTROPY_LINE",
    "SecretHit",
    "SecretScanner",
    "mask",
    "shannon_entropy",
]

ENTROPY_INSPECTS = "secret-entropy"
MAX_ENTROPY_LINE = 10_000
BASE64_THRESHOLD = 4.5
HEX_THRESHOLD = 3.0
MIN_ENTROPY_LENGTH = 20

# Published example credentials (AWS documentation and the like): never real.
KNOWN_TEST_VALUES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    }
)

_FIXTURE = re.compile(
    r"example|dummy|fake|test|x{4}|0{4}|placeholder|sample|redacted|changeme"
    r"|^your[_-]|your[_-]?(?:api[_-]?)?(?:key|token|secret|password)|[_-]here$"
    r"|<[^<>]{0,100}>|\$\{[^{}]{0,100}\}|\{\{.{0,100}?\}\}|\*{4}|\.{3}|…",
    re.IGNORECASE,
)
_PLACEHOLDER_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "mypassword",
        "yourpassword",
        "none",
        "null",
        "undefined",
        "string",
        "required",
        "optional",
        "username",
        "user",
    }
)
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HASH_LENGTHS = frozenset({32, 40, 64})
# Words that say a hex string is a digest or an id (looked up in lowercased context).
_HASH_WORDS = (
    "sha",
    "md5",
    "digest",
    "hash",
    "checksum",
    "integrity",
    "commit",
    "etag",
    "fingerprint",
    "revision",
    "rev ",
    "rev=",
    "rev:",
    'rev"',
    "rev'",
    "uuid",
    "guid",
    "oid ",
    "blake",
    "crc",
)
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_NOT_A_SECRET_NAME = re.compile(
    r"name|url|uri|type|file|path|_id|env|var|header|field|len|prefix|format|version|hint"
    r"|label|policy|endpoint|host|mode|kind|ttl|expir|count|size|class|validator|required"
    r"|manager|store|dir|location|param|input|prompt|regex|pattern|ref|arn",
    re.IGNORECASE,
)
_SRI_CONTEXT = re.compile(r"sha(?:1|256|384|512)[-:]|integrity", re.IGNORECASE)
_LOCKFILES = frozenset(
    {
        "poetry.lock",
        "pipfile.lock",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "uv.lock",
        "pdm.lock",
        "cargo.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "conda-lock.yml",
        "flake.lock",
    }
)

# Pattern-text surgery: escapes, character classes and group openings.
_TOKEN = re.compile(
    r"\\(?P<esc>.)|(?P<cls>\[\^?\]?(?:\\.|[^\]\\])*\])"
    r"|(?P<named>\(\?P<[A-Za-z_][A-Za-z0-9_]*>)|(?P<plain>\((?!\?))|(?P<backref>\(\?P=)",
    re.DOTALL,
)
_LEADING_FLAGS = re.compile(r"\(\?([imsx]+)\)")


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0.0 for the empty string)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def mask(value: str) -> str:
    """A secret as it may be shown: a few leading characters, an ellipsis and the length."""
    shown = 4 if len(value) >= 12 else len(value) // 4
    return f"{value[:shown]}…({len(value)})"


@dataclasses.dataclass(frozen=True, slots=True)
class SecretHit:
    """One secret in a text.  ``line`` is 1-based; columns are 0-based, end exclusive."""

    rule: RuleMeta
    line: int
    column: int
    end_column: int
    value: str = dataclasses.field(repr=False)  # the raw secret: never log or print it
    masked: str
    start: int = 0  # offset of the value in the scanned text
    end: int = 0


def _uncapture(pattern: str, rule_id: str) -> str:
    """``pattern`` with every capturing group made non-capturing (and global flags scoped)."""
    flags = _LEADING_FLAGS.match(pattern)
    if flags is not None:
        pattern = f"(?{flags.group(1)}:{pattern[flags.end() :]})"

    def replace(match: re.Match[str]) -> str:
        if match.group("plain") or match.group("named"):
            return "(?:"
        if match.group("backref") or (match.group("esc") or "").isdigit():
            raise InputError(f"secret rule {rule_id}: back-references cannot be combined")
        return match.group(0)

    return _TOKEN.sub(replace, pattern)


def _case_variants(code: int) -> set[int]:
    char = chr(code)
    found = {code, ord(char.lower()[0]), ord(char.upper()[0])}
    try:
        from re import _casefix  # type: ignore[attr-defined]  # CPython internals, guarded

        extra: dict[int, tuple[int, ...]] = _casefix._EXTRA_CASES
        for low in list(found):
            found.update(extra.get(low, ()))
    except ImportError:  # pragma: no cover - other interpreters: the plain variants suffice
        pass
    return found


def _first_chars(pattern: str, flags: int) -> set[int] | None:
    """Every character a match of ``pattern`` can start with, or None when unbounded/unknown."""
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern, flags)
    except (ImportError, AttributeError, re.error):  # pragma: no cover - other interpreters
        return None

    def seq(items: Iterable[Any], fl: int) -> tuple[set[int] | None, bool]:
        acc: set[int] = set()
        for op, av in items:
            chars, nullable = item(op, av, fl)
            if chars is None:
                return None, False
            acc |= chars
            if not nullable:
                return acc, False
        return acc, True

    def item(op: Any, av: Any, fl: int) -> tuple[set[int] | None, bool]:
        ignore = bool(fl & re.IGNORECASE)
        if op is c.LITERAL:
            return (_case_variants(av) if ignore else {av}), False
        if op is c.IN:
            out: set[int] = set()
            for sub_op, sub_av in av:
                if sub_op is c.LITERAL:
                    out.add(sub_av)
                elif sub_op is c.RANGE and sub_av[1] - sub_av[0] <= 512:
                    out.update(range(sub_av[0], sub_av[1] + 1))
                else:
                    return None, False  # NEGATE, CATEGORY, huge ranges: any character
            if ignore:
                out = {v for ch in out for v in _case_variants(ch)}
            return out, False
        if op is c.BRANCH:
            acc: set[int] = set()
            nullable = False
            for branch in av[1]:
                chars, null = seq(branch, fl)
                if chars is None:
                    return None, False
                acc |= chars
                nullable = nullable or null
            return acc, nullable
        if op is c.SUBPATTERN:
            _group, add, remove, sub = av
            return seq(sub, (fl | add) & ~remove)
        if op is c.ATOMIC_GROUP:
            return seq(av, fl)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _high, sub = av
            chars, nullable = seq(sub, fl)
            return chars, nullable or low == 0
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return set(), True  # zero width: the next item decides
        return None, False

    chars, nullable = seq(tree, flags)
    return None if nullable else chars


def _char_class(chars: set[int]) -> str:
    return "[" + "".join(re.escape(chr(ch)) for ch in sorted(chars)) + "]"


def _scoped(rule: SecretRule) -> str:
    """The rule's pattern, capture-free, with its compile flags scoped to it."""
    flags = "".join(
        letter
        for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
        if rule.regex.flags & flag
    )
    body = _uncapture(rule.regex.pattern, rule.meta.id)
    return f"(?{flags}:{body})" if flags else body


# Characters by how often they occur in code and prose: common ones are tried first.
_FREQUENT = " etaonisrlhdcupmfgybwvkxjqz_ETAONISRLHDCUPMFGYBWVKXJQZ.,()=:'\"0123456789-/"
_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]")
_META = frozenset("()|*+?{}.^$")


def _class_chars(cls: str) -> set[int] | None:
    """The characters of a simple class ``[a-z_]``, None for negated or escaped-class sets."""
    body = cls[1:-1]
    if body.startswith("^"):
        return None
    chars: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum():
                return None  # \d, \w, \s, \uXXXX: keep it simple
            ch = body[i + 1]
            i += 1
        if i + 2 < len(body) and body[i + 1] == "-" and chars is not None:
            high = body[i + 2]
            if high == "\\" or ord(high) < ord(ch) or ord(high) - ord(ch) > 512:
                return None
            chars.extend(chr(code) for code in range(ord(ch), ord(high) + 1))
            i += 3
            continue
        chars.append(ch)
        i += 1
    return {ord(ch) for ch in chars}


def _split_first(body: str) -> tuple[set[int], str] | None:
    """``body``'s mandatory first character set and ``body`` without that first atom.

    Works for patterns that begin (inside any number of ``(?:`` groups) with a plain
    character or a simple class that is not repeated, and have no alternation at the level
    of those leading groups; None otherwise.
    """
    i = 0
    lead = 0
    while body.startswith("(?:", i):
        i += 3
        lead += 1
    if i >= len(body):
        return None
    if body[i] == "[":
        match = _CLASS.match(body, i)
        if match is None:
            return None
        chars = _class_chars(match.group(0))
        end = match.end()
    elif body[i] == "\\":
        if i + 1 >= len(body) or body[i + 1].isalnum():
            return None
        chars, end = {ord(body[i + 1])}, i + 2
    elif body[i] in _META:
        return None
    else:
        chars, end = {ord(body[i])}, i + 1
    if chars is None or (end < len(body) and body[end] in "*+?{"):
        return None
    depth = 0
    closes: list[int] = []
    for token in _STRUCTURE.finditer(body):
        text = token.group(0)
        if text == "(" or text.startswith("(?"):
            depth += 1
        elif text == ")":
            if depth <= lead:
                closes.append(token.end())
            depth -= 1
        elif text == "|" and depth <= lead:
            return None
    for close in closes:  # a leading group must not itself be optional or repeated
        if close < len(body) and body[close] in "*+?{":
            return None
    return chars, body[:i] + body[end:]


_STRUCTURE = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|\(\??|\)|\|", re.DOTALL)


def _combine(rules: Sequence[SecretRule]) -> str:
    """One alternation over every rule; each branch ends in its tag group ``rN``/``rN_k``.

    When every rule starts with a plain character or class, the alternation is grouped by
    first character, ``c(?:rest-of-rule-1(?P<r1_0>)|...)``: every top-level branch then starts
    with a literal, so the engine skips non-starting characters in its fast search loop and
    tries one group per position.  Rule order is kept within each group (rules that start
    with different characters can never match at the same place).
    """
    if not rules:
        return "(?!)"
    bodies = [_scoped(rule) for rule in rules]
    splits = [split for split in map(_split_first, bodies) if split is not None]
    if len(splits) == len(bodies):
        groups: dict[int, list[str]] = {}
        for index, (chars, rest) in enumerate(splits):
            for ch in chars:
                tag = f"(?P<r{index}_{len(groups.get(ch, ()))}_{ch}>)"
                groups.setdefault(ch, []).append(f"(?:{rest}){tag}")
        order = sorted(groups, key=lambda ch: (_FREQUENT.find(chr(ch)) % 1000, ch))
        return "|".join(f"{re.escape(chr(ch))}(?:{'|'.join(groups[ch])})" for ch in order)
    starts: set[int] | None = set()
    for rule in rules:
        first = _first_chars(rule.regex.pattern, rule.regex.flags & ~re.UNICODE)
        starts = None if first is None or starts is None else starts | first
    branches = "|".join(f"(?:{body})(?P<r{index}>)" for index, body in enumerate(bodies))
    return f"(?={_char_class(starts)})(?:{branches})" if starts else branches


class SecretScanner:
    """All provider rules as one compiled alternation, plus the entropy detector.

    ``rules`` are the registry's secret rules; the one whose ``inspects`` is
    ``secret-entropy`` (if any) is the entropy rule and its regex names the
    candidate tokens, the rest go into :attr:`pattern`.
    """

    def __init__(self, rules: Sequence[SecretRule]) -> None:
        providers = [r for r in rules if r.meta.inspects != ENTROPY_INSPECTS]
        entropy = [r for r in rules if r.meta.inspects == ENTROPY_INSPECTS]
        self.rules: tuple[SecretRule, ...] = tuple(providers)
        self.entropy_rule: SecretRule | None = entropy[0] if entropy else None
        try:
            self.pattern: re.Pattern[str] = re.compile(_combine(providers))
        except re.error as exc:  # pragma: no cover - each rule compiled alone already
            raise InputError(f"secret rules cannot be combined: {exc}") from None

    # ------------------------------------------------------------------ scanning

    def scan(self, text: str, *, path: str | None = None) -> list[SecretHit]:
        """Every secret in ``text``, in order; ``path`` (if known) marks lockfiles."""
        spans: list[tuple[int, int]] = []  # every provider match, kept or filtered
        found: list[tuple[int, int, RuleMeta]] = []
        for start, end, rule in self._provider_hits(text, 0, len(text), spans):
            found.append((start, end, rule))
        lockfile = path is not None and PurePath(path).name.lower() in _LOCKFILES
        if self.entropy_rule is not None and not lockfile:
            found.extend(self._entropy_hits(text, self.entropy_rule, spans))
        found.sort(key=lambda item: item[0])
        return self._locate(text, found)

    def _provider_hits(
        self,
        text: str,
        pos: int,
        endpos: int,
        spans: list[tuple[int, int]],
        outer: RuleMeta | None = None,
    ) -> list[tuple[int, int, RuleMeta]]:
        out: list[tuple[int, int, RuleMeta]] = []
        for match in self.pattern.finditer(text, pos, endpos):
            name = match.lastgroup
            if name is None:  # pragma: no cover - every branch ends with its tag
                continue
            rule = self.rules[int(name[1:].split("_", 1)[0])]
            if outer is not None and (
                rule.meta is outer or _specificity(rule.meta) <= _specificity(outer)
            ):
                continue  # inside a generic match, only a more specific rule may claim it
            own = rule.regex.match(text, match.start())
            if own is None or own.start(1) < 0:
                continue
            start, end = own.span(1)
            spans.append((start, end))
            if outer is None and rule.meta.confidence < Confidence.HIGH:
                # a more specific provider token inside a generic match wins
                inner = self._provider_hits(text, start, end, spans, rule.meta)
                if inner:
                    out.extend(inner)
                    continue
            if not _plausible(text[start:end], rule.meta, text[own.start() : start]):
                continue
            out.append((start, end, rule.meta))
        return out

    @staticmethod
    def _entropy_hits(
        text: str, rule: SecretRule, spans: list[tuple[int, int]]
    ) -> list[tuple[int, int, RuleMeta]]:
        out: list[tuple[int, int, RuleMeta]] = []
        ordered = sorted(spans)
        cursor = 0
        pos = 0
        size = len(text)
        while pos < size:
            match = rule.regex.search(text, pos)
            if match is None or match.start(1) < 0:
                break
            start, end = match.span(1)
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            line_end = size if line_end < 0 else line_end
            if line_end - line_start > MAX_ENTROPY_LINE:
                pos = line_end + 1
                continue
            pos = max(end, match.start() + 1)
            while cursor < len(ordered) and ordered[cursor][1] <= start:
                cursor += 1
            if any(s < end and start < e for s, e in ordered[cursor : cursor + 4]):
                continue
            value = text[start:end]
            # the few lines before count as context too (a table header naming the hash)
            before = text[max(0, line_start - 400) : line_start]
            if _high_entropy(value, text[line_start:line_end], before):
                out.append((start, end, rule.meta))
        return out

    @staticmethod
    def _locate(text: str, found: list[tuple[int, int, RuleMeta]]) -> list[SecretHit]:
        hits: list[SecretHit] = []
        line = 1
        line_start = 0
        last = 0
        for start, end, rule in found:
            newlines = text.count("\n", last, start)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", last, start) + 1
            last = start
            value = text[start:end]
            line_end = text.find("\n", start, end)
            hits.append(
                SecretHit(
                    rule=rule,
                    line=line,
                    column=start - line_start,
                    end_column=(end if line_end < 0 else line_end) - line_start,
                    value=value,
                    masked=mask(value),
                    start=start,
                    end=end,
                )
            )
        return hits


def _specificity(rule: RuleMeta) -> tuple[int, int]:
    return (int(rule.confidence), int(rule.severity))


def _plausible(value: str, rule: RuleMeta, context: str) -> bool:
    """False for public example keys, fixtures and placeholders.

    ``context`` is the matched text before the value (``token_url = "``): for the
    generic rules a name that only mentions a secret (a URL, a file, a type) is skipped.
    """
    if value in KNOWN_TEST_VALUES or _FIXTURE.search(value):
        return False
    if value.lower() in _PLACEHOLDER_WORDS or len(set(value)) < 4:
        return False
    if rule.confidence < Confidence.HIGH:  # generic assignments: skip references, not values
        if "://" in value or value.startswith(("/", "./", "~/", "os.", "env.", "arn:")):
            return False
        name = _NAME.match(context)
        if name is not None and _NOT_A_SECRET_NAME.search(name.group(0)):
            return False
    return True


def _encoded_text(token: str) -> bool:
    """Whether a base64 token decodes to readable text (encoded prose, not a key)."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=None, validate=True)
    except (ValueError, binascii.Error):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            return False
    printable = sum(1 for b in raw if 32 <= b < 127 or b in (9, 10, 13))
    return len(raw) >= 12 and printable == len(raw) and b" " in raw


def _high_entropy(value: str, line: str, before: str = "") -> bool:
    token = value.rstrip("=")
    if len(token) < MIN_ENTROPY_LENGTH or token in KNOWN_TEST_VALUES:
        return False
    if _FIXTURE.search(token) or _UUID.fullmatch(token):
        return False
    if not any(ch.isdigit() for ch in token) or not any(ch.isalpha() for ch in token):
        return False
    context = line.replace(value, " ")
    if _HEX.fullmatch(token):
        if len(token) in _HASH_LENGTHS:
            nearby = f"{before}\n{context}".lower()
            if any(word in nearby for word in _HASH_WORDS):
                return False
        return shannon_entropy(token) >= HEX_THRESHOLD
    if _SRI_CONTEXT.search(context) or _encoded_text(token):
        return False  # subresource-integrity style base64 digests
    if "/" in token and all(part.isalpha() or not part for part in token.split("/")[:-1]):
        return False  # a path, not a key
    return shannon_entropy(token) >= BASE64_THRESHOLD
