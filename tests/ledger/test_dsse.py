"""DSSE v1: the spec's PAE and signature test vector, byte lengths, envelope parsing."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from grace_kernel.errors import MalformedRecordError
from grace_kernel.ledger._dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    Envelope,
    Signature,
    encode_grace_envelope,
    pae,
)
from grace_kernel.ledger._keys import Signer

# secure-systems-lab/dsse protocol.md, "Test Vectors".
SPEC_PAYLOAD_TYPE = "http://example.com/HelloWorld"
SPEC_PAYLOAD = b"hello world"
SPEC_PAE = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
SPEC_KEY_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_KEY_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_SIGNATURE_B64 = (
    "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="
)


def _spec_public_key() -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicNumbers(SPEC_KEY_X, SPEC_KEY_Y, ec.SECP256R1()).public_key()


def _spec_signature_der() -> bytes:
    raw = base64.b64decode(SPEC_SIGNATURE_B64)
    assert len(raw) == 64
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


VALID_DOC: dict[str, Any] = {
    "payload": _b64(b'{"x":1}'),
    "payloadType": IN_TOTO_PAYLOAD_TYPE,
    "signatures": [{"keyid": "ab" * 32, "sig": _b64(b"\x01" * 64)}],
}


# --- PAE ---------------------------------------------------------------------------


def test_pae_matches_the_dsse_spec_test_vector() -> None:
    assert pae(SPEC_PAYLOAD_TYPE, SPEC_PAYLOAD) == SPEC_PAE


def test_spec_example_signature_verifies_over_our_pae() -> None:
    key = _spec_public_key()
    key.verify(
        _spec_signature_der(), pae(SPEC_PAYLOAD_TYPE, SPEC_PAYLOAD), ec.ECDSA(hashes.SHA256())
    )
    with pytest.raises(InvalidSignature):
        key.verify(_spec_signature_der(), SPEC_PAYLOAD, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    "forged",
    [
        b"DSSEv1 29 http://example.com/HelloWorld 12 hello world",
        b"DSSEv1 30 http://example.com/HelloWorld 11 hello world",
        b"DSSEv1 29 http://example.com/HelloWorld 011 hello world",
    ],
    ids=["body-length", "type-length", "padded-length"],
)
def test_spec_example_signature_fails_over_a_different_length_prefix(forged: bytes) -> None:
    with pytest.raises(InvalidSignature):
        _spec_public_key().verify(_spec_signature_der(), forged, ec.ECDSA(hashes.SHA256()))


def test_pae_lengths_count_utf8_bytes_not_characters() -> None:
    payload_type = "application/\u00e9"  # 13 characters, 14 bytes
    body = "h\u00e9llo \u2713".encode()  # 7 characters, 10 bytes
    assert len(payload_type) == 13
    assert len(body) == 10
    assert pae(payload_type, body) == (
        b"DSSEv1 14 application/\xc3\xa9 10 h\xc3\xa9llo \xe2\x9c\x93"
    )


def test_pae_of_empty_type_and_body_keeps_every_separator() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_pae_length_prefixes_keep_type_and_body_boundaries_apart() -> None:
    assert pae("a b", b"c") != pae("a", b"b c")
    assert pae("a", b"1 b") != pae("a 1", b"b")


# --- Envelope round trip --------------------------------------------------------------


def test_envelope_round_trips_through_bytes_with_several_signatures() -> None:
    envelope = Envelope(
        payload=b'{"a":"\xc3\xa9"}\x00\xff',
        payload_type="application/example+json",
        signatures=(Signature("k1", b"\x00" * 64), Signature("", b"\xfb\xff" * 32)),
    )
    raw = envelope.to_bytes()
    assert Envelope.from_bytes(raw) == envelope
    assert Envelope.from_bytes(raw).to_bytes() == raw


def test_envelope_bytes_are_compact_json_with_sorted_keys() -> None:
    envelope = Envelope(b"hi", "t", (Signature("k", b"\x01\x02"),))
    assert envelope.to_bytes() == (
        b'{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"k","sig":"AQI="}]}'
    )


def test_grace_shaped_envelope_bytes_equal_the_generic_encoder_output() -> None:
    envelope = Envelope(b'{"x":1}', IN_TOTO_PAYLOAD_TYPE, (Signature("ab" * 32, b"\xff" * 64),))
    generic = {
        "payload": _b64(envelope.payload),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"keyid": "ab" * 32, "sig": _b64(b"\xff" * 64)}],
    }
    expected = json.dumps(generic, sort_keys=True, separators=(",", ":")).encode()
    assert envelope.to_bytes() == expected
    assert Envelope.from_bytes(expected, canonical=True) == envelope


def test_signed_envelope_verifies_after_a_round_trip() -> None:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"dsse test").digest()))
    payload = b'{"_type":"https://in-toto.io/Statement/v1"}'
    signature = Signature(signer.keyid, signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload)))
    parsed = Envelope.from_bytes(Envelope(payload, IN_TOTO_PAYLOAD_TYPE, (signature,)).to_bytes())
    assert signer.public.verify(parsed.signatures[0].sig, parsed.signed_bytes())
    assert not signer.public.verify(parsed.signatures[0].sig, pae("text/plain", payload))


def test_url_safe_base64_is_accepted_for_payload_and_signature() -> None:
    payload, sig = b"\xfb\xff\xbf" * 4, b"\xff\xfe" * 32
    standard, url_safe = _b64(payload), base64.urlsafe_b64encode(payload).decode()
    assert "+" in standard or "/" in standard
    assert "-" in url_safe or "_" in url_safe
    doc = {
        "payload": url_safe,
        "payloadType": "t",
        "signatures": [{"keyid": "k", "sig": base64.urlsafe_b64encode(sig).decode()}],
    }
    envelope = Envelope.from_bytes(_json(doc))
    assert envelope.payload == payload
    assert envelope.signatures[0].sig == sig


def test_signature_without_keyid_is_accepted_with_an_empty_keyid() -> None:
    doc = {**VALID_DOC, "signatures": [{"sig": _b64(b"s")}]}
    assert Envelope.from_bytes(_json(doc)).signatures == (Signature("", b"s"),)


# --- Malformed envelopes ---------------------------------------------------------------


def _without(key: str) -> bytes:
    return _json({k: v for k, v in VALID_DOC.items() if k != key})


def _with(key: str, value: Any) -> bytes:
    return _json({**VALID_DOC, key: value})


MALFORMED: dict[str, bytes] = {
    "missing-payload": _without("payload"),
    "missing-payloadType": _without("payloadType"),
    "missing-signatures": _without("signatures"),
    "extra-key": _with("extra", 1),
    "payload-not-base64": _with("payload", "not base64!"),
    "payload-bad-padding": _with("payload", "abc"),
    "payload-non-ascii": _with("payload", "\u00e9\u00e9\u00e9\u00e9"),
    "payload-not-string": _with("payload", 5),
    "payloadType-empty": _with("payloadType", ""),
    "payloadType-not-string": _with("payloadType", ["t"]),
    "zero-signatures": _with("signatures", []),
    "signatures-not-list": _with("signatures", {"keyid": "k", "sig": ""}),
    "signature-not-object": _with("signatures", ["AAAA"]),
    "signature-without-sig": _with("signatures", [{"keyid": "k"}]),
    "signature-extra-key": _with("signatures", [{"keyid": "k", "sig": "AAAA", "x": 1}]),
    "signature-keyid-not-string": _with("signatures", [{"keyid": 7, "sig": "AAAA"}]),
    "signature-not-base64": _with("signatures", [{"keyid": "k", "sig": "*"}]),
    "array": b"[]",
    "string": b'"envelope"',
    "null": b"null",
    "not-json": b"{payload",
    "not-utf8": b'{"payload":"\xff"}',
    "duplicate-key": (
        b'{"payload":"AAAA","payload":"AAAA","payloadType":"t",'
        b'"signatures":[{"keyid":"k","sig":"AAAA"}]}'
    ),
    "duplicate-key-in-signature": (
        b'{"payload":"AAAA","payloadType":"t",'
        b'"signatures":[{"keyid":"k","sig":"AAAA","sig":"AAAA"}]}'
    ),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_refused_with_malformed_record_error(raw: bytes) -> None:
    with pytest.raises(MalformedRecordError):
        Envelope.from_bytes(raw)
    with pytest.raises(MalformedRecordError):
        Envelope.from_bytes(raw, canonical=True)


def test_valid_document_used_by_the_malformed_cases_is_itself_accepted() -> None:
    envelope = Envelope.from_bytes(_json(VALID_DOC))
    assert envelope.payload == b'{"x":1}'
    assert envelope.signatures == (Signature("ab" * 32, b"\x01" * 64),)


@pytest.mark.parametrize(
    "raw",
    [
        _json(VALID_DOC),  # json.dumps puts spaces after separators
        json.dumps(VALID_DOC, separators=(",", ":"))
        .encode()
        .replace(b'"payload":', b'"payload" :'),
        json.dumps(
            {"signatures": VALID_DOC["signatures"], **VALID_DOC}, separators=(",", ":")
        ).encode(),
    ],
    ids=["spaces", "space-before-colon", "unsorted-keys"],
)
def test_canonical_parse_refuses_other_encodings_of_a_valid_envelope(raw: bytes) -> None:
    assert Envelope.from_bytes(raw).payload == b'{"x":1}'
    with pytest.raises(MalformedRecordError, match="canonical"):
        Envelope.from_bytes(raw, canonical=True)


def test_canonical_parse_refuses_url_safe_base64() -> None:
    envelope = Envelope(b"\xfb\xff\xbf", IN_TOTO_PAYLOAD_TYPE, (Signature("ab", b"\xff" * 64),))
    url_safe = envelope.to_bytes()
    for data in (envelope.payload, envelope.signatures[0].sig):
        url_safe = url_safe.replace(base64.b64encode(data), base64.urlsafe_b64encode(data))
    assert url_safe != envelope.to_bytes()
    assert Envelope.from_bytes(url_safe) == envelope
    with pytest.raises(MalformedRecordError, match="canonical"):
        Envelope.from_bytes(url_safe, canonical=True)


@given(payload=st.binary(max_size=2048), sig=st.binary(min_size=64, max_size=64))
def test_hand_assembled_envelope_equals_the_json_encoding(payload: bytes, sig: bytes) -> None:
    keyid = hashlib.sha256(sig).hexdigest()
    doc = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}],
    }
    expected = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert encode_grace_envelope(payload, keyid, sig) == expected
