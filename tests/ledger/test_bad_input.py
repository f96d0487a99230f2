"""Malformed input: a bad bundle line is a failed report naming its line; an unusable file
is a :class:`GraceError` naming the file, never a foreign exception."""

from __future__ import annotations

import functools
import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from grace_kernel.errors import (
    BundleError,
    GraceEnvironmentError,
    GraceError,
    KeyStoreError,
    MalformedRecordError,
    StoreError,
)
from grace_kernel.ledger import FileWitness, Subject, verify_bundle
from grace_kernel.workspace import Workspace
from tests.ledger.conftest import (
    ENTRIES,
    SIZE,
    TEST_PREDICATE,
    LedgerCopy,
    b64,
    write_lines,
)


def assert_diagnosed(exc: BaseException, kind: type[GraceError], *fragments: str) -> None:
    """A Grace error of the right branch whose message and diagnostics name the culprit."""
    assert isinstance(exc, GraceError)
    assert isinstance(exc, kind)
    assert not isinstance(exc, sqlite3.Error | json.JSONDecodeError | UnicodeDecodeError)
    text = exc.diagnostics()
    assert text.startswith(f"error: {exc.message}")
    for fragment in fragments:
        assert fragment in exc.message
        assert fragment in text


# --------------------------------------------------------------------------- bundle lines


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(b"{not json", "not valid JSON", id="not-json"),
        pytest.param(b"", "not valid JSON", id="empty-line"),
        pytest.param(b"\xff\xfe\x00", "not UTF-8", id="not-utf8"),
        pytest.param(b"[1, 2, 3]", "envelope is not a JSON object", id="json-array"),
        pytest.param(b'{"hello": "world"}', "envelope keys wrong", id="json-not-envelope"),
        pytest.param(
            b'{"payload":"","payloadType":"x","signatures":[]}',
            "at least one signature",
            id="envelope-without-signature",
        ),
    ],
)
def test_malformed_bundle_line_is_reported_with_its_line_number(
    ledger: LedgerCopy, line: bytes, problem: str
) -> None:
    bundle = ledger.bundle_copy()
    records = ledger.envelopes()
    records[5] = line
    write_lines(bundle / ENTRIES, records)

    report = verify_bundle(bundle)

    assert not report.ok
    assert report.first_bad_index == 5
    assert report.problem is not None
    assert report.problem.startswith(f"record 5 ({ENTRIES} line 6): malformed: ")
    assert problem in report.problem
    ledger.assert_pristine_bundle_verifies()


def test_inserted_blank_line_is_reported_with_its_line_number(ledger: LedgerCopy) -> None:
    bundle = ledger.bundle_copy()
    records = ledger.envelopes()
    records.insert(12, b"")
    write_lines(bundle / ENTRIES, records)

    report = verify_bundle(bundle)

    assert not report.ok
    assert report.first_bad_index == 12
    assert report.problem is not None
    assert report.problem.startswith(f"record 12 ({ENTRIES} line 13): malformed: ")


@pytest.mark.parametrize(
    ("duplicate", "problem"),
    [
        pytest.param(b'"payloadType":"x",', "duplicate JSON key 'payloadType'", id="payloadType"),
        pytest.param(b'"payload":"",', "duplicate JSON key 'payload'", id="payload"),
    ],
)
def test_duplicate_keys_in_bundle_line_are_reported(
    ledger: LedgerCopy, duplicate: bytes, problem: str
) -> None:
    bundle = ledger.bundle_copy()
    records = ledger.envelopes()
    # Put the duplicate first: a lenient parser keeps the last value and sees the real record.
    records[7] = b"{" + duplicate + records[7][1:]
    write_lines(bundle / ENTRIES, records)

    report = verify_bundle(bundle)

    assert not report.ok
    assert report.first_bad_index == 7
    assert report.problem is not None
    assert report.problem.startswith(f"record 7 ({ENTRIES} line 8): malformed: ")
    assert problem in report.problem


def test_windows_line_endings_are_reported_at_first_line(ledger: LedgerCopy) -> None:
    bundle = ledger.bundle_copy()
    write_lines(bundle / ENTRIES, [r + b"\r" for r in ledger.envelopes()])

    report = verify_bundle(bundle)

    assert not report.ok
    assert report.first_bad_index == 0
    assert report.problem is not None
    assert report.problem.startswith(f"record 0 ({ENTRIES} line 1): malformed: ")


@pytest.mark.parametrize("cut", [1, 2, 40, 200])
def test_entries_cut_mid_line_fail_at_last_record(ledger: LedgerCopy, cut: int) -> None:
    bundle = ledger.bundle_copy()
    data = (bundle / ENTRIES).read_bytes()
    (bundle / ENTRIES).write_bytes(data[: len(data) - 1 - cut])

    report = verify_bundle(bundle)

    assert not report.ok
    assert report.first_bad_index == SIZE - 1
    assert report.problem is not None
    assert report.problem.startswith(f"record {SIZE - 1} ({ENTRIES} line {SIZE}): malformed: ")


def test_entries_without_final_newline_still_verify(ledger: LedgerCopy) -> None:
    bundle = ledger.bundle_copy()
    data = (bundle / ENTRIES).read_bytes()
    (bundle / ENTRIES).write_bytes(data[:-1])

    assert verify_bundle(bundle).ok


def test_empty_entries_file_fails_at_record_0(ledger: LedgerCopy) -> None:
    bundle = ledger.bundle_copy()
    (bundle / ENTRIES).write_bytes(b"")

    report = verify_bundle(bundle)

    assert not report.ok
    assert report.first_bad_index == 0
    assert report.problem is not None
    assert f"a signed checkpoint covers {SIZE} records, the log has 0" in report.problem


# --------------------------------------------------------------------------- bundle files


def test_missing_bundle_directory_is_a_bundle_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bundle"
    with pytest.raises(BundleError) as caught:
        verify_bundle(missing)
    assert_diagnosed(caught.value, BundleError, str(missing), "does not exist")


@pytest.mark.parametrize("name", ["checkpoint", "keys.json", ENTRIES])
def test_missing_bundle_file_is_a_bundle_error(ledger: LedgerCopy, name: str) -> None:
    bundle = ledger.bundle_copy()
    (bundle / name).unlink()

    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle)

    assert_diagnosed(caught.value, BundleError, str(bundle / name), "is missing")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(b"grace.local/x\n1\n\xff\xfe\n\n", "not UTF-8", id="not-utf8"),
        pytest.param(b"", "no blank line", id="empty"),
        pytest.param(b"hello\n", "no blank line", id="garbage"),
        pytest.param(
            b"origin\nseven\nAAAA\n\n\xe2\x80\x94 x AAAA\n", "not a decimal size", id="size"
        ),
    ],
)
def test_unreadable_checkpoint_is_a_bundle_error(
    ledger: LedgerCopy, content: bytes, problem: str
) -> None:
    bundle = ledger.bundle_copy()
    (bundle / "checkpoint").write_bytes(content)

    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle)

    assert_diagnosed(caught.value, BundleError, str(bundle / "checkpoint"), problem)


@functools.cache
def _rsa_public_der() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _keys_with(ledger: LedgerCopy, **changes: object) -> bytes:
    doc = json.loads((ledger.bundle / "keys.json").read_bytes())
    doc["keys"][0].update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        pytest.param(lambda _: b"{not json", "not valid JSON", id="not-json"),
        pytest.param(lambda _: b"\xff\xfe", "not UTF-8", id="not-utf8"),
        pytest.param(lambda _: b"[]", "expected an object with a 'keys' list", id="array"),
        pytest.param(
            lambda _: b'{"keys": [], "keys": [], "origin": "x"}',
            "duplicate JSON key 'keys'",
            id="duplicate-key",
        ),
        pytest.param(lambda _: b'{"keys": []}', "'origin' must be a string", id="no-origin"),
        pytest.param(
            lambda c: _keys_with(c, algorithm="rsa", public_key=b64(_rsa_public_der())),
            "key #1 has algorithm 'rsa'; bundles carry ed25519 keys only",
            id="rsa-key",
        ),
        pytest.param(
            lambda c: _keys_with(c, public_key=b64(_rsa_public_der())),
            "an Ed25519 key is 32",
            id="rsa-bytes-labelled-ed25519",
        ),
        pytest.param(
            lambda c: _keys_with(c, public_key=b64(bytes(31))),
            "key #1: public_key is 31 bytes; an Ed25519 key is 32",
            id="31-byte-key",
        ),
        pytest.param(
            lambda c: _keys_with(c, public_key="not base64!"),
            "public_key is not base64",
            id="key-not-base64",
        ),
        pytest.param(
            lambda c: _keys_with(c, added_at="0"),
            "field 'added_at' is missing or has the wrong type",
            id="added-at-string",
        ),
        pytest.param(
            lambda c: _keys_with(c, added_at=True),
            "field 'added_at' is missing or has the wrong type",
            id="added-at-bool",
        ),
        pytest.param(
            lambda _: json.dumps({"origin": "grace.local/elsewhere", "keys": []}).encode(),
            "is for origin 'grace.local/elsewhere'",
            id="other-origin",
        ),
    ],
)
def test_malformed_keys_json_is_a_bundle_error(
    ledger: LedgerCopy, make: Callable[[LedgerCopy], bytes], problem: str
) -> None:
    bundle = ledger.bundle_copy()
    (bundle / "keys.json").write_bytes(make(ledger))

    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle)

    assert_diagnosed(caught.value, BundleError, str(bundle / "keys.json"), problem)


@pytest.mark.parametrize(
    ("content", "kind", "problem"),
    [
        pytest.param(b"not a checkpoint", MalformedRecordError, "no blank line", id="garbage"),
        pytest.param(b"\xff\xfe", GraceEnvironmentError, "cannot read witness", id="not-utf8"),
    ],
)
def test_unreadable_witness_is_an_error_naming_it(
    ledger: LedgerCopy, content: bytes, kind: type[GraceError], problem: str
) -> None:
    path = ledger.root / "witness"
    path.write_bytes(content)

    with pytest.raises(kind) as caught:
        verify_bundle(ledger.bundle, witness=FileWitness(path))

    assert_diagnosed(caught.value, kind, str(path), problem)


# --------------------------------------------------------------------------- the database


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda data: random.Random(7).randbytes(len(data)), id="random-bytes"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated-half"),
        pytest.param(lambda data: data[:4096], id="truncated-first-page"),
        pytest.param(lambda data: data[:100], id="truncated-header"),
    ],
)
def test_corrupt_database_is_a_store_error_naming_it(
    ledger: LedgerCopy, corrupt: Callable[[bytes], bytes]
) -> None:
    db = ledger.db_path
    db.write_bytes(corrupt(db.read_bytes()))

    with pytest.raises(StoreError) as caught:
        Workspace.open(ledger.settings).close()

    assert_diagnosed(caught.value, StoreError, f"database {db}")


def _append_one(ledger: LedgerCopy) -> None:
    with Workspace.open(ledger.settings) as ws:
        ws.ledger.append(
            subjects=[Subject("x", "0" * 64)], predicate_type=TEST_PREDICATE, predicate={}
        )


def test_private_key_readable_by_others_refuses_to_sign(ledger: LedgerCopy) -> None:
    pem = ledger.settings.keys_dir / f"{ledger.second_keyid}.pem"
    pem.chmod(0o644)

    with pytest.raises(KeyStoreError) as caught:
        _append_one(ledger)

    assert_diagnosed(caught.value, KeyStoreError, str(pem), "readable by others (mode 0644)")
    assert caught.value.hint == f"run: chmod 600 {pem}"
    assert f"hint: run: chmod 600 {pem}" in caught.value.diagnostics()
    pem.chmod(0o600)
    _append_one(ledger)  # fixed permissions: signing works again, nothing was lost


def test_missing_private_key_refuses_to_sign(ledger: LedgerCopy) -> None:
    pem = ledger.settings.keys_dir / f"{ledger.second_keyid}.pem"
    pem.unlink()

    with pytest.raises(KeyStoreError) as caught:
        _append_one(ledger)

    assert_diagnosed(caught.value, KeyStoreError, str(pem), "is missing")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(b"not a pem file", "not a readable unencrypted PEM private key", id="garbage"),
        pytest.param(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "Grace signs with Ed25519 only",
            id="ec-key",
        ),
    ],
)
def test_unusable_private_key_refuses_to_sign(
    ledger: LedgerCopy, content: bytes, problem: str
) -> None:
    pem = ledger.settings.keys_dir / f"{ledger.second_keyid}.pem"
    pem.write_bytes(content)

    with pytest.raises(KeyStoreError) as caught:
        _append_one(ledger)

    assert_diagnosed(caught.value, KeyStoreError, str(pem), problem)


def test_private_key_of_another_key_refuses_to_sign(ledger: LedgerCopy) -> None:
    keys = ledger.settings.keys_dir
    pem = keys / f"{ledger.second_keyid}.pem"
    pem.write_bytes((keys / f"{ledger.first_keyid}.pem").read_bytes())

    with pytest.raises(KeyStoreError) as caught:
        _append_one(ledger)

    assert_diagnosed(caught.value, KeyStoreError, str(pem), f"not {ledger.second_keyid[:16]}")
    with Workspace.open(ledger.settings) as ws:
        assert ws.ledger.size == SIZE
