"""RFC 8785 (JSON Canonicalization Scheme) output and strict JSON input.

Writing: :func:`canonical_json` returns the RFC 8785 form of a JSON value.  For
the values Grace's records are made of (objects with ASCII keys, strings,
integers within the IEEE-754 exact range, booleans, null) ``orjson`` with
sorted keys produces exactly the RFC 8785 bytes, about 13 times faster than
the standard library: RFC 8785 §3.2.2.2 escapes only ``"``, ``\\`` and
U+0000..U+001F with the short forms and lower-case ``\\u00xx`` orjson uses, and
§3.2.3 sorts keys by UTF-16 code units, which for ASCII keys is the order orjson
sorts by.  Anything else (floats, which need ECMAScript number formatting;
non-ASCII keys; large integers) goes to the ``rfc8785`` package.  A property
test pins the two paths to each other.

Reading: :func:`loads_strict` refuses duplicate object keys (RFC 8259 §4 leaves
them undefined, which is an ambiguity an attacker can use), ``NaN`` and
``Infinity``, and anything that is not UTF-8.  :func:`loads_canonical` is the
verifier's faster and stricter reader: the bytes must be exactly the canonical
form of what they parse to, which rules out duplicate keys, whitespace and
reordered keys at once.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import rfc8785

from grace_kernel.errors import InputError, MalformedRecordError

__all__ = ["canonical_json", "loads_canonical", "loads_strict"]

_MAX_SAFE_INT = 2**53 - 1
_SORT = orjson.OPT_SORT_KEYS
_SCALARS = frozenset({str, bool, type(None)})


_WHOLE = object()


def canonical_json(value: Any, *, check_only: Any = _WHOLE) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value`` (dicts, lists, str, int, float, bool, None).

    ``check_only`` names the part of ``value`` that may hold what the fast
    encoder cannot write canonically (floats, non-ASCII keys, large integers);
    the caller vouches that the rest is ASCII-keyed strings, booleans and small
    integers.  Raises :class:`InputError` for values JSON cannot carry
    canonically (NaN, infinities, integers beyond 2**53, lone surrogates,
    non-str keys).
    """
    try:
        if _fast_path_ok(value if check_only is _WHOLE else check_only):
            try:
                return orjson.dumps(value, option=_SORT)
            except orjson.JSONEncodeError:
                pass  # e.g. nested deeper than orjson's limit of 254: the reference decides
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, orjson.JSONEncodeError, ValueError, TypeError) as exc:
        raise InputError(f"value cannot be written as canonical JSON: {exc}") from None
    except RecursionError:
        raise InputError("value cannot be written as canonical JSON: nested too deeply") from None


def _fast_path_ok(value: Any) -> bool:
    stack = [value]
    pop, extend = stack.pop, stack.extend
    containers: set[int] = set()
    while stack:
        item = pop()
        kind = type(item)
        if (kind is dict or kind is list) and id(item) in containers:
            return False  # shared or cyclic: the reference encoder decides (a cycle raises)
        if kind is dict:
            containers.add(id(item))
            try:
                if not "".join(item).isascii():
                    return False
            except TypeError:  # a non-str key
                return False
            extend(item.values())
        elif kind in _SCALARS:
            continue
        elif kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        elif kind is list:
            containers.add(id(item))
            extend(item)
        else:
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


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise MalformedRecordError(f"JSON number {text[:40]} overflows a double")
    return number


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity and invalid UTF-8."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except UnicodeDecodeError as exc:
        raise MalformedRecordError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise MalformedRecordError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer literal longer than int() accepts
        raise MalformedRecordError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedRecordError("JSON nested too deeply") from None


def loads_canonical(data: bytes) -> Any:
    """Parse bytes that must be exactly the RFC 8785 form of their value.

    Raises :class:`MalformedRecordError` naming the problem (a duplicate key is
    named as such; other deviations as "not canonical").
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        loads_strict(data)  # raises with a precise message (position, encoding)
        raise MalformedRecordError("not valid JSON") from None
    try:
        canonical = canonical_json(value)
    except InputError as exc:
        raise MalformedRecordError(exc.message) from None
    if canonical != data:
        loads_strict(data)  # names a duplicate key if that is the reason
        raise MalformedRecordError("not in canonical form (RFC 8785): whitespace or key order")
    return value
