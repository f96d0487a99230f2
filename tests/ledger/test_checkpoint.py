"""Checkpoints as C2SP signed notes: exact format, key hash, strict parsing."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grace_kernel.errors import MalformedRecordError
from grace_kernel.ledger._checkpoint import (
    Checkpoint,
    NoteSignature,
    checkpoint_body,
    note_key_hash,
)
from grace_kernel.ledger._keys import Signer
from grace_kernel.ledger._merkle import EMPTY_ROOT

ORIGIN = "grace.example/ledger/test"
SIZE = 1234
ROOT = hashlib.sha256(b"some tree").digest()
EM_DASH = "\u2014"


def _signer(seed: bytes) -> Signer:
    return Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()))


SIGNER = _signer(b"checkpoint key")
OTHER = _signer(b"another key")


def _independent_key_hash(name: str, public_key: bytes) -> bytes:
    """c2sp.org/signed-note: SHA-256(name || 0x0A || 0x01 || key)[:4] for Ed25519."""
    digest = hashlib.sha256()
    digest.update(name.encode("utf-8"))
    digest.update(b"\n")
    digest.update(bytes([1]))
    digest.update(public_key)
    return digest.digest()[:4]


def _signed(origin: str = ORIGIN, size: int = SIZE, root: bytes = ROOT) -> Checkpoint:
    body = checkpoint_body(origin, size, root)
    key_hash = _independent_key_hash(origin, SIGNER.public.raw)
    return Checkpoint(origin, size, root, (NoteSignature(origin, key_hash, SIGNER.sign(body)),))


def _text() -> str:
    return _signed().to_text()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- Format ----------------------------------------------------------------------------


def test_key_hash_is_first_four_bytes_of_sha256_of_name_newline_alg_and_key() -> None:
    for name in (ORIGIN, "x", "n\u00e4me"):
        expected = _independent_key_hash(name, SIGNER.public.raw)
        assert note_key_hash(name, SIGNER.public.raw) == expected
        assert len(expected) == 4
    assert note_key_hash(ORIGIN, SIGNER.public.raw) != note_key_hash(ORIGIN, OTHER.public.raw)
    assert note_key_hash(ORIGIN, SIGNER.public.raw) != note_key_hash("other", SIGNER.public.raw)


def test_body_is_exactly_origin_size_and_base64_root_each_on_its_own_line() -> None:
    assert checkpoint_body("example.com/log", 0, EMPTY_ROOT) == (
        b"example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    )
    assert checkpoint_body(ORIGIN, SIZE, ROOT) == f"{ORIGIN}\n{SIZE}\n{_b64(ROOT)}\n".encode()
    assert _signed().body == checkpoint_body(ORIGIN, SIZE, ROOT)


def test_note_text_is_body_blank_line_then_em_dash_signature_lines() -> None:
    checkpoint = _signed()
    signature = checkpoint.signatures[0].signature
    key_hash = _independent_key_hash(ORIGIN, SIGNER.public.raw)
    assert checkpoint.to_text() == (
        f"{ORIGIN}\n{SIZE}\n{_b64(ROOT)}\n\n{EM_DASH} {ORIGIN} {_b64(key_hash + signature)}\n"
    )


def test_note_round_trips_through_text_unchanged() -> None:
    text = _text()
    parsed = Checkpoint.from_text(text)
    assert parsed == _signed()
    assert (parsed.origin, parsed.size, parsed.root) == (ORIGIN, SIZE, ROOT)
    assert parsed.to_text() == text


def test_note_with_several_signatures_round_trips_in_order() -> None:
    body = checkpoint_body(ORIGIN, SIZE, ROOT)
    cosigner = NoteSignature(
        "witness.example/w1",
        _independent_key_hash("witness.example/w1", OTHER.public.raw),
        OTHER.sign(body),
    )
    checkpoint = Checkpoint(ORIGIN, SIZE, ROOT, (*_signed().signatures, cosigner))
    parsed = Checkpoint.from_text(checkpoint.to_text())
    assert parsed == checkpoint
    assert [s.name for s in parsed.signatures] == [ORIGIN, "witness.example/w1"]


@pytest.mark.parametrize("size", [0, 1, 10, 2**63 - 1])
def test_sizes_round_trip_in_plain_decimal(size: int) -> None:
    text = _signed(size=size).to_text()
    assert text.split("\n")[1] == str(size)
    assert Checkpoint.from_text(text).size == size


def test_signed_by_checks_name_key_hash_and_signature_over_the_body() -> None:
    checkpoint = Checkpoint.from_text(_text())
    assert checkpoint.signed_by(SIGNER.public)
    assert not checkpoint.signed_by(OTHER.public)
    moved = Checkpoint(ORIGIN, SIZE + 1, ROOT, checkpoint.signatures)
    assert not moved.signed_by(SIGNER.public)
    renamed = Checkpoint("other.example/log", SIZE, ROOT, checkpoint.signatures)
    assert not renamed.signed_by(SIGNER.public)


# --- Malformed notes ------------------------------------------------------------------------


def _replace_line(index: int, new: str) -> str:
    lines = _text().split("\n")
    lines[index] = new
    return "\n".join(lines)


def _signature_line(name: str = ORIGIN, blob: bytes | None = None, dash: str = EM_DASH) -> str:
    if blob is None:
        blob = _independent_key_hash(ORIGIN, SIGNER.public.raw) + b"\x00" * 64
    return f"{dash} {name} {_b64(blob)}"


BODY = f"{ORIGIN}\n{SIZE}\n{_b64(ROOT)}\n"

MALFORMED: dict[str, tuple[str, str]] = {
    "no-blank-line": (BODY + _signature_line() + "\n", "no blank line"),
    "empty": ("", "no blank line"),
    "only-body": (BODY, "no blank line"),
    "size-leading-zero": (_replace_line(1, "01"), "not a decimal size"),
    "size-negative": (_replace_line(1, "-1"), "not a decimal size"),
    "size-plus": (_replace_line(1, "+1"), "not a decimal size"),
    "size-empty": (_replace_line(1, ""), "origin, size and root"),
    "size-padded": (_replace_line(1, " 1"), "not a decimal size"),
    "size-hex": (_replace_line(1, "0x10"), "not a decimal size"),
    "size-fraction": (_replace_line(1, "1.0"), "not a decimal size"),
    "size-non-ascii-digit": (_replace_line(1, "\u0661"), "not a decimal size"),
    "root-not-base64": (_replace_line(2, "not*base64*at*all"), "root line is not base64"),
    "root-url-safe": (
        _replace_line(2, base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
        "root line is not base64",
    ),
    "root-unpadded": (_replace_line(2, _b64(ROOT).rstrip("=")), "root line is not base64"),
    "root-31-bytes": (_replace_line(2, _b64(ROOT[:31])), "bytes, expected 32"),
    "root-33-bytes": (_replace_line(2, _b64(ROOT + b"\x00")), "bytes, expected 32"),
    "root-empty": (_replace_line(2, ""), "origin, size and root"),
    "origin-empty": (_replace_line(0, ""), "origin line"),
    "origin-padded": (_replace_line(0, f" {ORIGIN}"), "origin line"),
    "missing-root-line": (f"{ORIGIN}\n{SIZE}\n\n{_signature_line()}\n", "origin, size and root"),
    "extension-line": (f"{BODY}extension: value\n\n{_signature_line()}\n", "extension lines"),
    "hyphen-not-em-dash": (
        f"{BODY}\n{_signature_line(dash='-')}\n",
        "signature line .* is malformed",
    ),
    "en-dash-not-em-dash": (
        f"{BODY}\n{_signature_line(dash=chr(0x2013))}\n",
        "signature line .* is malformed",
    ),
    "no-dash": (f"{BODY}\n{ORIGIN} {_b64(b'x' * 68)}\n", "signature line .* is malformed"),
    "two-spaces": (
        f"{BODY}\n{EM_DASH}  {ORIGIN} {_b64(b'x' * 68)}\n",
        "signature line .* is malformed",
    ),
    "name-with-plus": (
        f"{BODY}\n{_signature_line(name='a+b')}\n",
        "signature line .* is malformed",
    ),
    "missing-name": (f"{BODY}\n{EM_DASH} {_b64(b'x' * 68)}\n", "signature line .* is malformed"),
    "extra-field": (f"{BODY}\n{_signature_line()} extra\n", "signature line .* is malformed"),
    "blob-not-base64": (f"{BODY}\n{EM_DASH} {ORIGIN} ***\n", "signature is not base64"),
    "blob-67-bytes": (f"{BODY}\n{_signature_line(blob=b'x' * 67)}\n", "not 68"),
    "blob-69-bytes": (f"{BODY}\n{_signature_line(blob=b'x' * 69)}\n", "not 68"),
    "blob-key-hash-only": (f"{BODY}\n{_signature_line(blob=b'x' * 4)}\n", "not 68"),
    "no-trailing-newline": (_text().removesuffix("\n"), "end with a newline"),
    "no-signature-lines": (BODY + "\n", "end with a newline"),
    "blank-line-between-signatures": (
        f"{BODY}\n{_signature_line()}\n\n{_signature_line()}\n",
        "signature line .* is malformed",
    ),
    "trailing-blank-line": (_text() + "\n", "signature line .* is malformed"),
    "crlf-line-endings": (_text().replace("\n", "\r\n"), "no blank line"),
}


@pytest.mark.parametrize(("text", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_note_is_refused_with_malformed_record_error(text: str, reason: str) -> None:
    with pytest.raises(MalformedRecordError, match=reason):
        Checkpoint.from_text(text)


def test_the_unmodified_note_behind_the_malformed_cases_parses() -> None:
    assert Checkpoint.from_text(_text()).signed_by(SIGNER.public)
    good_line = _signature_line()
    assert Checkpoint.from_text(f"{BODY}\n{good_line}\n").signatures[0].name == ORIGIN
