"""in-toto Statement v1 (in-toto/attestation, spec/v1/statement.md) with Grace's chain fields.

Every Grace statement's predicate carries a ``chain`` object::

    {"sequence": <this record's log index>,
     "previous": <hex leaf hash of the record before it, 64 zeros for the first>,
     "recorded_at": <RFC 3339 UTC time>,
     "trust": "service" | "in-kernel"}

so that each record commits to its position and to its predecessor in addition
to the Merkle tree over all records.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any

from grace_kernel.errors import InputError, MalformedRecordError
from grace_kernel.ledger._canonical import canonical_json, loads_canonical

__all__ = [
    "GENESIS_PREVIOUS",
    "STATEMENT_TYPE",
    "Chain",
    "Statement",
    "Subject",
    "predicate_type_urn",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
GENESIS_PREVIOUS = "0" * 64

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PREDICATE_TYPE = re.compile(r"(urn:[a-z0-9][a-z0-9-]{0,31}:\S+|https://\S+)")
_GRACE_URN = re.compile(r"[a-z][a-z0-9-]*")
_TRUST_MODES = frozenset({"service", "in-kernel"})


@functools.lru_cache(maxsize=256)
def _valid_predicate_type(text: str) -> bool:
    return _PREDICATE_TYPE.fullmatch(text) is not None


def predicate_type_urn(operation: str, version: int = 1) -> str:
    """``urn:grace:predicate:<operation>:v<version>``, the one URN per Grace operation."""
    if not _GRACE_URN.fullmatch(operation) or version < 1:
        raise InputError(f"bad predicate operation name {operation!r}")
    return f"urn:grace:predicate:{operation}:v{version}"


@dataclasses.dataclass(frozen=True, slots=True)
class Subject:
    """An artifact a statement is about: a name and its SHA-256 digest (hex)."""

    name: str
    sha256: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("subject name must be a non-empty string")
        if not isinstance(self.sha256, str) or not _HEX64.fullmatch(self.sha256):
            raise InputError(f"subject {self.name!r}: sha256 must be 64 lower-case hex digits")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "digest": {"sha256": self.sha256}}


@dataclasses.dataclass(frozen=True, slots=True)
class Chain:
    sequence: int
    previous: str
    recorded_at: str
    trust: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "previous": self.previous,
            "recorded_at": self.recorded_at,
            "trust": self.trust,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Statement:
    """A parsed or about-to-be-signed statement; ``predicate`` excludes ``chain``."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]
    chain: Chain

    def to_payload(self) -> bytes:
        """RFC 8785 canonical bytes: what the DSSE envelope signs."""
        predicate = dict(self.predicate)
        predicate["chain"] = self.chain.to_json()
        doc = {
            "_type": STATEMENT_TYPE,
            "subject": [s.to_json() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": predicate,
        }
        # Everything but the caller's predicate is built here from validated
        # strings and small integers; only the predicate needs the full check.
        return canonical_json(doc, check_only=self.predicate)

    @staticmethod
    def check_parts(
        subjects: tuple[Subject, ...], predicate_type: str, predicate: Mapping[str, Any]
    ) -> None:
        """Validate what a caller wants recorded, before it is signed."""
        if not subjects:
            raise InputError("a statement needs at least one subject")
        if not isinstance(predicate_type, str) or not _valid_predicate_type(predicate_type):
            raise InputError(
                f"predicate type {predicate_type!r} must be a URN (urn:...) or an https:// URI"
            )
        if not isinstance(predicate, Mapping):
            raise InputError("predicate must be a JSON object")
        if "chain" in predicate:
            raise InputError("predicate key 'chain' is reserved for the ledger")

    @classmethod
    def from_payload(cls, payload: bytes) -> Statement:
        """Parse and validate canonical statement bytes; raises :class:`MalformedRecordError`."""
        doc = loads_canonical(payload)
        if not isinstance(doc, dict):
            raise MalformedRecordError("statement is not a JSON object")
        if doc.get("_type") != STATEMENT_TYPE:
            raise MalformedRecordError(f"statement _type is not {STATEMENT_TYPE}")
        if set(doc) != {"_type", "subject", "predicateType", "predicate"}:
            raise MalformedRecordError(f"statement has unexpected fields {sorted(doc)}")
        predicate = doc["predicate"]
        if not isinstance(predicate, dict):
            raise MalformedRecordError("statement predicate is not an object")
        chain = _chain(predicate.pop("chain", None))
        raw_subjects = doc["subject"]
        if not isinstance(raw_subjects, list) or not raw_subjects:
            raise MalformedRecordError("statement subject must be a non-empty list")
        try:
            subjects = tuple(_subject(s) for s in raw_subjects)
        except InputError as exc:
            raise MalformedRecordError(exc.message) from None
        predicate_type = doc["predicateType"]
        if not isinstance(predicate_type, str) or not _PREDICATE_TYPE.fullmatch(predicate_type):
            raise MalformedRecordError(f"statement predicateType {predicate_type!r} is not a URN")
        return cls(subjects, predicate_type, predicate, chain)


def _subject(item: Any) -> Subject:
    if not isinstance(item, dict) or not isinstance(item.get("digest"), dict):
        raise MalformedRecordError("statement subject entries need a name and a digest object")
    return Subject(name=item.get("name", ""), sha256=item["digest"].get("sha256", ""))


def _chain(raw: Any) -> Chain:
    if not isinstance(raw, dict) or set(raw) != {"sequence", "previous", "recorded_at", "trust"}:
        raise MalformedRecordError("statement predicate lacks a well-formed chain object")
    sequence, previous = raw["sequence"], raw["previous"]
    if type(sequence) is not int or sequence < 0:
        raise MalformedRecordError("chain.sequence must be a non-negative integer")
    if not isinstance(previous, str) or not _HEX64.fullmatch(previous):
        raise MalformedRecordError("chain.previous must be 64 lower-case hex digits")
    if not isinstance(raw["recorded_at"], str) or raw["trust"] not in _TRUST_MODES:
        raise MalformedRecordError("chain.recorded_at or chain.trust is malformed")
    return Chain(sequence, previous, raw["recorded_at"], raw["trust"])
