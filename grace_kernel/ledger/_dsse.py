"""DSSE v1 envelopes (secure-systems-lab/dsse, protocol.md and envelope.md).

Signature = Sign(PAE(UTF8(payloadType), payload)), where
``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` and
LEN is the decimal byte length.  Grace stores each envelope as compact JSON
with sorted keys, so the stored bytes are deterministic for a given signature.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from typing import Any

import orjson

from grace_kernel.errors import MalformedRecordError
from grace_kernel.ledger._canonical import loads_strict

__all__ = ["IN_TOTO_PAYLOAD_TYPE", "Envelope", "Signature", "encode_grace_envelope", "pae"]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

_IN_TOTO_ASCII = IN_TOTO_PAYLOAD_TYPE.encode("ascii")
_SAFE_KEYID = re.compile(r"[0-9a-f]{1,128}")
_ENVELOPE_KEYS = frozenset({"payload", "payloadType", "signatures"})
_encode_compact = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def encode_grace_envelope(payload: bytes, keyid: str, sig: bytes) -> bytes:
    """The stored bytes of the one envelope shape Grace writes (in-toto, one signature).

    No field needs JSON escaping (base64, a fixed media type, a hex key id), so
    the bytes are assembled directly; they equal the compact key-sorted JSON
    encoding, which a test pins.  ``keyid`` must be hex.
    """
    return b'{"payload":"%b","payloadType":"%b","signatures":[{"keyid":"%b","sig":"%b"}]}' % (
        base64.b64encode(payload),
        _IN_TOTO_ASCII,
        keyid.encode("ascii"),
        base64.b64encode(sig),
    )


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding (protocol.md, "Signature Definition")."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclasses.dataclass(frozen=True, slots=True)
class Signature:
    keyid: str
    sig: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope: payload bytes, their type, and signatures over their PAE."""

    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def signed_bytes(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_bytes(self) -> bytes:
        """Compact, key-sorted JSON: the exact bytes Grace stores and hashes."""
        if (
            self.payload_type == IN_TOTO_PAYLOAD_TYPE
            and len(self.signatures) == 1
            and _SAFE_KEYID.fullmatch(self.signatures[0].keyid)
        ):
            return encode_grace_envelope(
                self.payload, self.signatures[0].keyid, self.signatures[0].sig
            )
        doc = {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }
        return _encode_compact(doc).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes, *, canonical: bool = False) -> Envelope:
        """Parse envelope bytes, refusing duplicate keys; raises :class:`MalformedRecordError`.

        With ``canonical=True`` (the ledger verifier) the bytes must also be
        exactly those :meth:`to_bytes` writes, so one record has one encoding.
        """
        doc = _loads_fast(raw) if canonical else loads_strict(raw)
        if not isinstance(doc, dict):
            raise MalformedRecordError("envelope is not a JSON object")
        if set(doc) != _ENVELOPE_KEYS:
            missing = sorted(_ENVELOPE_KEYS - set(doc))
            extra = sorted(set(doc) - _ENVELOPE_KEYS)
            raise MalformedRecordError(
                f"envelope keys wrong (missing {missing}, unexpected {extra})"
            )
        payload_type = doc["payloadType"]
        if not isinstance(payload_type, str) or not payload_type:
            raise MalformedRecordError("envelope payloadType must be a non-empty string")
        sigs = doc["signatures"]
        if not isinstance(sigs, list) or not sigs:
            raise MalformedRecordError("envelope must carry at least one signature")
        envelope = cls(
            payload=_b64("payload", doc["payload"]),
            payload_type=payload_type,
            signatures=tuple(_signature(s) for s in sigs),
        )
        if canonical and envelope.to_bytes() != raw:
            loads_strict(raw)  # names a duplicate key if that is the reason
            raise MalformedRecordError("envelope bytes are not in Grace's canonical form")
        return envelope


def _loads_fast(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        loads_strict(raw)  # raises with a precise message
        raise MalformedRecordError("envelope is not valid JSON") from None


def _signature(item: Any) -> Signature:
    if not isinstance(item, dict) or set(item) - {"keyid", "sig"} or "sig" not in item:
        raise MalformedRecordError("envelope signature must be an object with keyid and sig")
    keyid = item.get("keyid", "")
    if not isinstance(keyid, str):
        raise MalformedRecordError("envelope signature keyid must be a string")
    return Signature(keyid=keyid, sig=_b64("sig", item["sig"]))


def _b64(field: str, value: Any) -> bytes:
    """Standard or URL-safe base64, as DSSE requires verifiers to accept both."""
    if not isinstance(value, str):
        raise MalformedRecordError(f"envelope {field} must be a base64 string")
    try:
        if "-" in value or "_" in value:
            return base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True)
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedRecordError(f"envelope {field} is not valid base64: {exc}") from None
