"""Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint and c2sp.org/signed-note).

Body::

    <origin>\\n<tree size>\\n<base64 root hash>\\n

Note = body, a blank line, then one line per signature::

    \\u2014 <key name> <base64(key hash (4 bytes) || Ed25519 signature (64 bytes))>\\n

The key hash is the first four bytes of SHA-256(name || "\\n" || 0x01 || public
key), 0x01 being the signed-note algorithm byte for Ed25519.  The signature is
over the body bytes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re

from grace_kernel.errors import MalformedRecordError
from grace_kernel.ledger._keys import PublicKey

__all__ = ["Checkpoint", "NoteSignature", "checkpoint_body", "note_key_hash"]

_EM_DASH = "\u2014"
_ED25519_ALG = b"\x01"
_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


def note_key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519_ALG + public_key).digest()[:4]


def checkpoint_body(origin: str, size: int, root: bytes) -> bytes:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n".encode()


@dataclasses.dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_hash + self.signature).decode("ascii")
        return f"{_EM_DASH} {self.name} {blob}\n"


@dataclasses.dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed checkpoint note.  Building one does not verify it: see ``verify_checkpoint``."""

    origin: str
    size: int
    root: bytes
    signatures: tuple[NoteSignature, ...]

    @property
    def body(self) -> bytes:
        return checkpoint_body(self.origin, self.size, self.root)

    def to_text(self) -> str:
        return self.body.decode("utf-8") + "\n" + "".join(s.line() for s in self.signatures)

    def signed_by(self, key: PublicKey) -> bool:
        """Whether a signature line named ``origin`` verifies under ``key``."""
        expected = note_key_hash(self.origin, key.raw)
        return any(
            s.name == self.origin and s.key_hash == expected and key.verify(s.signature, self.body)
            for s in self.signatures
        )

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a note strictly; raises :class:`MalformedRecordError` naming the line."""
        body, sep, sigs = text.partition("\n\n")
        if not sep:
            raise MalformedRecordError("checkpoint has no blank line before its signatures")
        lines = body.split("\n")
        if len(lines) < 3:
            raise MalformedRecordError("checkpoint body needs origin, size and root lines")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or origin != origin.strip():
            raise MalformedRecordError("checkpoint origin line is empty or padded")
        if not _SIZE.fullmatch(size_text):
            raise MalformedRecordError(f"checkpoint size line {size_text!r} is not a decimal size")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise MalformedRecordError("checkpoint root line is not base64") from None
        if len(root) != 32:
            raise MalformedRecordError(f"checkpoint root is {len(root)} bytes, expected 32")
        if len(lines) > 3:
            raise MalformedRecordError("checkpoint has extension lines Grace does not write")
        if not sigs.endswith("\n"):
            raise MalformedRecordError("checkpoint signature block must end with a newline")
        signatures = tuple(_signature_line(line) for line in sigs[:-1].split("\n"))
        if not signatures:
            raise MalformedRecordError("checkpoint carries no signature")
        return cls(origin, int(size_text), root, signatures)


def _signature_line(line: str) -> NoteSignature:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _EM_DASH or not _NAME.fullmatch(parts[1]):
        raise MalformedRecordError(f"checkpoint signature line {line[:80]!r} is malformed")
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        raise MalformedRecordError("checkpoint signature is not base64") from None
    if len(blob) != 4 + 64:
        raise MalformedRecordError(
            f"checkpoint Ed25519 signature blob is {len(blob)} bytes, not 68"
        )
    return NoteSignature(parts[1], blob[:4], blob[4:])
