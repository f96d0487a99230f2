"""RFC 8785 canonical JSON output and strict JSON input."""

from __future__ import annotations

import string
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grace_kernel.errors import InputError, MalformedRecordError
from grace_kernel.ledger._canonical import canonical_json, loads_canonical, loads_strict

# --- RFC 8785 examples ---------------------------------------------------------

# RFC 8785 §3.2.2: input with unusual numbers, string escapes and literals.
RFC8785_INPUT = (
    b"{\n"
    b'  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
    b'  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
    b'  "literals": [null, true, false]\n'
    b"}"
)
RFC8785_OUTPUT = (
    '{"literals":[null,true,false],'
    '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode()

# RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
RFC8785_NUMBERS: list[tuple[str, str]] = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

# RFC 8785 §3.2.3: keys sort by their UTF-16 code units, so the emoji (a
# surrogate pair starting 0xD83D) comes before U+FB33.
RFC8785_SORTING_INPUT: dict[str, str] = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC8785_SORTED_VALUES = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


def test_rfc8785_section_3_2_2_example_is_reproduced_byte_for_byte() -> None:
    value = loads_strict(RFC8785_INPUT)
    assert canonical_json(value) == RFC8785_OUTPUT


@pytest.mark.parametrize(("bits", "expected"), RFC8785_NUMBERS)
def test_rfc8785_appendix_b_numbers_are_written_in_ecmascript_form(
    bits: str, expected: str
) -> None:
    assert canonical_json(_double(bits)) == expected.encode()
    assert canonical_json({"n": [_double(bits)]}) == b'{"n":[' + expected.encode() + b"]}"


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinities_cannot_be_written(bits: str) -> None:
    with pytest.raises(InputError):
        canonical_json({"n": _double(bits)})


def test_object_keys_sort_by_utf16_code_units_as_in_rfc8785_example() -> None:
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode()
    out = canonical_json(RFC8785_SORTING_INPUT)
    assert out == expected
    assert list(loads_strict(out).values()) == RFC8785_SORTED_VALUES
    # Code point order would put U+FB33 before U+1F600: the example tells them apart.
    assert sorted(RFC8785_SORTING_INPUT).index("\ufb33") < sorted(RFC8785_SORTING_INPUT).index(
        "\U0001f600"
    )


@pytest.mark.parametrize("key", ["k", "\u00e9"], ids=["ascii-key", "non-ascii-key"])
def test_string_escapes_are_the_rfc8785_set_on_both_encoder_paths(key: str) -> None:
    text = '\x00\x1f\b\f\n\r\t"\\\x7f\u2028\u00e9/'
    expected = ('{"' + key + '":"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\\x7f\u2028\u00e9/"}').encode()
    assert canonical_json({key: text}) == expected


def test_integers_are_limited_to_the_ieee754_exact_range() -> None:
    limit = 2**53 - 1
    assert canonical_json([limit, -limit, 0]) == b"[9007199254740991,-9007199254740991,0]"
    for too_big in (limit + 1, -(limit + 1), 10**30):
        with pytest.raises(InputError):
            canonical_json({"n": too_big})


@pytest.mark.parametrize(
    "value",
    [{1: "x"}, {None: 1}, {("a",): 1}, {"\ud800": 1}, ["\udfff"], {"k": b"bytes"}, {"k": {1, 2}}],
    ids=["int-key", "none-key", "tuple-key", "surrogate-key", "surrogate-str", "bytes", "set"],
)
def test_values_json_cannot_carry_raise_input_error(value: Any) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


def test_cyclic_value_raises_input_error_instead_of_looping() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(InputError):
        canonical_json({"k": cyclic})


def test_too_deeply_nested_value_raises_input_error() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InputError, match="nested too deeply"):
        canonical_json(deep)


@pytest.mark.parametrize("depth", [126, 127, 128, 200])
def test_deep_but_finite_nesting_is_written_like_the_reference(depth: int) -> None:
    # Each step adds two levels; orjson alone gives up at 254 levels.
    deep: list[Any] = []
    for _ in range(depth):
        deep = [{"k": deep}]
    assert canonical_json(deep) == rfc8785.dumps(deep)


def test_shared_subvalues_are_written_in_full_each_time() -> None:
    shared = {"b": [1, 2]}
    assert canonical_json({"x": shared, "y": [shared, shared]}) == (
        b'{"x":{"b":[1,2]},"y":[{"b":[1,2]},{"b":[1,2]}]}'
    )


# --- The two encoder paths agree with the reference package ---------------------

ascii_keys = st.text(alphabet=string.printable, max_size=6)
any_keys = st.text(max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.text(alphabet=string.printable, max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(ascii_keys, children, max_size=5),
        st.dictionaries(any_keys, children, max_size=5),
    ),
    max_leaves=25,
)
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts_with_surrogates = st.text(alphabet=st.one_of(surrogates, st.characters()), min_size=1)


def _assert_same_as_reference(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(InputError):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_equals_rfc8785_package_or_both_refuse(value: Any) -> None:
    _assert_same_as_reference(value)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.one_of(ascii_keys, texts_with_surrogates), texts_with_surrogates))
def test_text_with_lone_surrogates_is_refused_like_the_reference(value: dict[str, str]) -> None:
    _assert_same_as_reference(value)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_canonical_output_reads_back_strictly_and_is_a_fixed_point(value: Any) -> None:
    assume(not _has_large_integral_float(value))
    try:
        out = canonical_json(value)
    except InputError:
        assume(False)
        raise
    assert canonical_json(loads_strict(out)) == out


def _has_large_integral_float(value: Any) -> bool:
    """JCS writes 1e20 as 100000000000000000000, which then reads back as a large int."""
    if isinstance(value, float):
        return abs(value) >= 2**53 and value == int(value)
    if isinstance(value, dict):
        return any(_has_large_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_large_integral_float(v) for v in value)
    return False


# --- Strict input -----------------------------------------------------------------


def test_loads_strict_reads_ordinary_json_from_bytes_and_text() -> None:
    doc = '{"a": [1, 2.5, "\u00e9", null, true], "b": {"c": {}}}'
    expected = {"a": [1, 2.5, "\u00e9", None, True], "b": {"c": {}}}
    assert loads_strict(doc) == expected
    assert loads_strict(doc.encode()) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": 1, "a": 1}',
        b'{"a": 1, "\\u0061": 2}',
        b'{"outer": {"x": 1, "y": 2, "x": 3}}',
        b'[{"ok": 1}, {"dup": 1, "dup": 2}]',
        b'{"a": [{"b": {"c": 1, "c": 1}}]}',
    ],
    ids=["top", "same-value", "escaped", "nested", "in-list", "deep"],
)
def test_loads_strict_refuses_duplicate_keys_at_any_depth(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError, match="duplicate JSON key"):
        loads_strict(raw)


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b"[Infinity]", b'{"x": -Infinity}', b'{"x": [1, NaN]}'],
)
def test_loads_strict_refuses_nan_and_infinity_constants(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError, match="not allowed"):
        loads_strict(raw)


@pytest.mark.parametrize("raw", [b"1e400", b"[-1e400]", b'{"x": 1.5e999}'])
def test_loads_strict_refuses_numbers_that_overflow_to_infinity(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError, match="overflows"):
        loads_strict(raw)


@pytest.mark.parametrize(
    "raw",
    [b'"\xff"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'{"k": "\xe2\x82"}', b"\xfe\xff[]"],
    ids=["invalid-byte", "overlong", "encoded-surrogate", "truncated", "utf16-bom"],
)
def test_loads_strict_refuses_invalid_utf8(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError, match="not UTF-8"):
        loads_strict(raw)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"{'a': 1}", b"[1,]", b"1 2", b"9" * 5000, b"[" * 100_000],
    ids=["empty", "truncated", "single-quotes", "trailing-comma", "two-values", "huge-int", "deep"],
)
def test_loads_strict_turns_every_parse_failure_into_malformed_record_error(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError):
        loads_strict(raw)


# --- Canonical input (the verifier's reader) ---------------------------------------


def test_loads_canonical_accepts_exactly_the_canonical_bytes() -> None:
    value = {"b": [1, "\u00e9", None], "a": {"z": True, "\u20ac": 0.5}}
    raw = canonical_json(value)
    assert loads_canonical(raw) == value


@pytest.mark.parametrize(
    "raw",
    [b'{"a": 1}', b'{"b":1,"a":2}', b'{"a":1.0}', b'{"a":1e2}', b'{"a":"\\u0041"}', b"[1] "],
    ids=["whitespace", "key-order", "float-form", "exponent", "needless-escape", "trailing-space"],
)
def test_loads_canonical_refuses_other_encodings_of_the_same_value(raw: bytes) -> None:
    assert loads_strict(raw) is not None
    with pytest.raises(MalformedRecordError, match="canonical"):
        loads_canonical(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a":1,"a":1}', "duplicate JSON key"),
        (b'{"a":NaN}', "not allowed"),
        (b'"\xff"', "not UTF-8"),
        (b"[9007199254740993]", "canonical JSON"),
        (b"{", "not valid JSON"),
    ],
    ids=["duplicate", "nan", "utf8", "unsafe-int", "truncated"],
)
def test_loads_canonical_names_why_it_refuses(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedRecordError, match=message):
        loads_canonical(raw)
