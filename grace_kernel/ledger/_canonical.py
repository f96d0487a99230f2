"""RFC 8785 (JSON Canonicalization Scheme) output and strict JSON input.

Writing: :func:`canonical_json` returns the RFC 8785 form of a JSON value.  For
the values Grace's records are made of (objects with ASCII keys, strings,
integers within the IEEE-754 exact range, booleans, null) the standard
library's C encoder with sorted keys, no whitespace and no ASCII escaping
produces exactly the RFC 8785 bytes: RFC 8785 §3.2.2.2 escapes only ``"``,
``\\`` and U+0000..U+001F (the C encoder escapes the same set, with the same
short forms and lower-case ``\\u00xx``), and §3.2.3 sorts keys by UTF-16 code
units, which for ASCII keys is the code point order Python sorts by.  Anything
else (floats, which need ECMAScript number formatting; non-ASCII keys; large
integers) goes to the ``rfc8785`` package.  A property test pins the two paths
to each other.

Reading: :func:`loads_strict` refuses duplicate object keys (RFC 8259 §4 leaves
them undefined, which is an ambiguity an attacker can use), ``NaN`` and
``Infinity``, and anything that is not UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from grace_kernel.errors import InputError, MalformedRecordError

__all__ = ["canonical_json", "loads_strict"]

_MAX_SAFE_INT = 2**53 - 1
_encode_fast = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value`` (dicts, lists, str, int, float, bool, None).

    Raises :class:`InputError` for values JSON cannot carry canonically
    (NaN, infinities, integers beyond 2**53, lone surrogates, non-str keys).
    """
    try:
        if _fast_path_ok(value):
            return _encode_fast(value).encode("utf-8")
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError, TypeError) as exc:
        raise InputError(f"value cannot be written as canonical JSON: {exc}") from None


def _fast_path_ok(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(item.values())
            continue
        if kind is list:
            stack.extend(item)
            continue
        return False  # floats, tuples, subclasses: let the reference encoder decide
    return True


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedRecordError(f"duplicate JSON key {key!r}")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise MalformedRecordError(f"JSON constant {name} is not allowed")


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity and invalid UTF-8."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except UnicodeDecodeError as exc:
        raise MalformedRecordError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise MalformedRecordError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise MalformedRecordError("JSON nested too deeply") from None
