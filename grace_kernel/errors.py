"""Grace's one exception tree.

Every error Grace raises is a :class:`GraceError`.  The branches say who is at
fault, which is what a caller (and the CLI's exit code) needs to know::

    GraceError                      exit 70 (should never reach the user unsplit)
    ├── InputError                  exit 2  the caller gave something malformed
    │   ├── ConfigError                     a setting is missing, out of range or mistyped
    │   ├── BundleError                     an exported bundle is missing or unreadable
    │   └── MalformedRecordError            bytes that should be a record are not one
    ├── PolicyError                 exit 3  policy refused the action
    ├── IntegrityError              exit 1  something signed does not check out
    │   ├── VerificationError               a ledger or bundle failed verification
    │   └── InvalidProofError               a Merkle proof does not match its root
    └── GraceEnvironmentError       exit 4  the machine or workspace is not usable
        ├── KeyStoreError                   a signing key is missing, unreadable or unsafe
        └── StoreError                      the database cannot be opened or written

Each error carries a one-line ``message`` and an optional ``hint`` (what to do
about it); :meth:`GraceError.diagnostics` renders both for humans.  Foreign
exceptions (``sqlite3``, ``cryptography``, ``json``) are translated into this
tree where Grace calls those libraries, never passed through.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "ConfigError",
    "GraceEnvironmentError",
    "GraceError",
    "InputError",
    "IntegrityError",
    "InvalidProofError",
    "KeyStoreError",
    "MalformedRecordError",
    "PolicyError",
    "StoreError",
    "VerificationError",
]


class GraceError(Exception):
    """Root of every error Grace raises on purpose."""

    exit_code = 70
    kind = "internal"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """A human diagnosis: what went wrong and, when known, what to do."""
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint}


class InputError(GraceError):
    """The caller passed something malformed: fix the input and retry."""

    exit_code = 2
    kind = "input"


class ConfigError(InputError):
    """A setting is missing, mistyped or outside its bounds."""

    kind = "config"


class BundleError(InputError):
    """An exported bundle is missing a file or a file cannot be read as expected."""

    kind = "bundle"


class MalformedRecordError(InputError):
    """Bytes that should hold an envelope, statement or checkpoint do not."""

    kind = "malformed"


class PolicyError(GraceError):
    """Policy refused the action."""

    exit_code = 3
    kind = "policy"


class IntegrityError(GraceError):
    """Something that was signed or hashed does not check out."""

    exit_code = 1
    kind = "integrity"


class VerificationError(IntegrityError):
    """A ledger or bundle failed verification; ``index`` is the first bad record."""

    kind = "verification"

    def __init__(self, message: str, *, index: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.index = index


class InvalidProofError(IntegrityError):
    """A Merkle inclusion or consistency proof does not lead to the expected root."""

    kind = "proof"


class GraceEnvironmentError(GraceError):
    """The machine or workspace cannot be used as it is (files, permissions, database)."""

    exit_code = 4
    kind = "environment"


class KeyStoreError(GraceEnvironmentError):
    """A signing key is missing, unreadable, of the wrong type or unsafely stored."""

    kind = "keys"


class StoreError(GraceEnvironmentError):
    """The database cannot be opened, read or written."""

    kind = "store"
