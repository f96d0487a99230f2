"""The signed, tamper-evident ledger (DESIGN.md §4).

Records are DSSE envelopes around in-toto Statement v1 payloads, serialized with
RFC 8785 and signed with Ed25519; the log is an RFC 9162 Merkle tree with C2SP
signed-note checkpoints.  Public surface:

- :class:`Ledger` appends and serves proofs (the only code that signs);
- :func:`verify_log`, :func:`verify_bundle` verify offline;
- :func:`verify_inclusion`, :func:`verify_consistency` check proofs against a root;
- :func:`export_bundle` writes a bundle anyone can verify.
"""

from grace_kernel.ledger._bundle import ExportSummary, export_bundle, verify_bundle
from grace_kernel.ledger._canonical import canonical_json, loads_strict
from grace_kernel.ledger._checkpoint import Checkpoint
from grace_kernel.ledger._dsse import IN_TOTO_PAYLOAD_TYPE, Envelope, Signature, pae
from grace_kernel.ledger._history import VerificationLog, VerificationRun
from grace_kernel.ledger._keys import FileKeyStore, KeyStore, MemoryKeyStore, PublicKey, key_id
from grace_kernel.ledger._ledger import (
    KEY_ADD,
    KEY_REVOKE,
    KEY_ROTATE,
    Clock,
    Entry,
    InclusionProof,
    Ledger,
    SystemClock,
)
from grace_kernel.ledger._merkle import (
    EMPTY_ROOT,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from grace_kernel.ledger._statement import Statement, Subject, predicate_type_urn
from grace_kernel.ledger._store import (
    KeyInfo,
    LedgerStore,
    MemoryLedgerStore,
    SQLiteLedgerStore,
)
from grace_kernel.ledger._verify import VerifyReport, verify_log
from grace_kernel.ledger._witness import FileWitness

__all__ = [
    "EMPTY_ROOT",
    "IN_TOTO_PAYLOAD_TYPE",
    "KEY_ADD",
    "KEY_REVOKE",
    "KEY_ROTATE",
    "Checkpoint",
    "Clock",
    "Entry",
    "Envelope",
    "ExportSummary",
    "FileKeyStore",
    "FileWitness",
    "InclusionProof",
    "KeyInfo",
    "KeyStore",
    "Ledger",
    "LedgerStore",
    "MemoryKeyStore",
    "MemoryLedgerStore",
    "PublicKey",
    "SQLiteLedgerStore",
    "Signature",
    "Statement",
    "Subject",
    "SystemClock",
    "VerificationLog",
    "VerificationRun",
    "VerifyReport",
    "canonical_json",
    "export_bundle",
    "key_id",
    "leaf_hash",
    "loads_strict",
    "pae",
    "predicate_type_urn",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
