"""Self-contained bundles: export a ledger, and verify one with nothing else.

Layout of a bundle directory::

    entries.jsonl   one record per line, in log order; each line is exactly the
                    stored envelope bytes, so SHA-256(0x00 || line) is its leaf hash
    checkpoint      the signed note covering every entry
    keys.json       {"origin": ..., "keys": [{keyid, name, algorithm, public_key,
                    added_at, retired_at, revoked_at, revocation_reason}, ...]}
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from grace_kernel.errors import BundleError, InputError, MalformedRecordError
from grace_kernel.ledger._canonical import loads_strict
from grace_kernel.ledger._checkpoint import Checkpoint
from grace_kernel.ledger._ledger import Ledger
from grace_kernel.ledger._store import KeyInfo
from grace_kernel.ledger._verify import VerifyReport, verify_log
from grace_kernel.ledger._witness import FileWitness

__all__ = ["ENTRIES", "ExportSummary", "export_bundle", "keys_to_json", "verify_bundle"]

ENTRIES = "entries.jsonl"
CHECKPOINT = "checkpoint"
KEYS = "keys.json"


@dataclasses.dataclass(frozen=True)
class ExportSummary:
    directory: Path
    size: int
    root: bytes
    origin: str

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "size": self.size,
            "root": self.root.hex(),
            "origin": self.origin,
        }


def keys_to_json(origin: str, keys: list[KeyInfo]) -> dict[str, Any]:
    return {
        "origin": origin,
        "keys": [
            {
                "keyid": k.keyid,
                "name": k.name,
                "algorithm": "ed25519",
                "public_key": base64.b64encode(k.public_key).decode("ascii"),
                "added_at": k.added_at,
                "retired_at": k.retired_at,
                "revoked_at": k.revoked_at,
                "revocation_reason": k.revocation_reason,
            }
            for k in keys
        ],
    }


def export_bundle(ledger: Ledger, out: Path) -> ExportSummary:
    """Write a bundle of every record up to a fresh checkpoint (each file replaced atomically)."""
    checkpoint = ledger.checkpoint()
    if checkpoint is None:
        raise InputError("the ledger is empty: nothing to export")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with _atomic(out / ENTRIES, "wb") as handle:
            for envelope in ledger.store.iter_envelopes(0, checkpoint.size):
                handle.write(envelope + b"\n")
        with _atomic(out / CHECKPOINT, "wb") as handle:
            handle.write(checkpoint.to_text().encode("utf-8"))
        keys = [k for k in ledger.list_keys() if k.added_at < checkpoint.size]
        keys = [_as_of(k, checkpoint.size) for k in keys]
        with _atomic(out / KEYS, "wb") as handle:
            doc = keys_to_json(checkpoint.origin, keys)
            handle.write(json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n")
    except OSError as exc:
        raise BundleError(f"cannot write bundle into {out}: {exc.strerror}") from None
    return ExportSummary(out, checkpoint.size, checkpoint.root, checkpoint.origin)


def _as_of(info: KeyInfo, size: int) -> KeyInfo:
    """A key's description as the first ``size`` records establish it."""
    if info.revoked_at is not None and info.revoked_at >= size:
        info = dataclasses.replace(info, revoked_at=None, revocation_reason=None)
    if info.retired_at is not None and info.retired_at >= size:
        info = dataclasses.replace(info, retired_at=None)
    return info


class _atomic:
    def __init__(self, path: Path, mode: str) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.handle = self.tmp.open(mode)

    def __enter__(self) -> Any:
        return self.handle

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
        finally:
            self.handle.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BundleError(f"bundle file {path} is missing") from None
    except UnicodeDecodeError:
        raise BundleError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return Checkpoint.from_text(text)
    except MalformedRecordError as exc:
        raise BundleError(f"{path}: {exc.message}") from None


def _read_keys(path: Path) -> tuple[str, list[KeyInfo]]:
    try:
        doc = loads_strict(path.read_bytes())
    except FileNotFoundError:
        raise BundleError(f"bundle file {path} is missing") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None
    except MalformedRecordError as exc:
        raise BundleError(f"{path}: {exc.message}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise BundleError(f"{path}: expected an object with a 'keys' list")
    origin = doc.get("origin")
    if not isinstance(origin, str):
        raise BundleError(f"{path}: 'origin' must be a string")
    return origin, [_key_from_json(path, n, item) for n, item in enumerate(doc["keys"])]


def _key_from_json(path: Path, n: int, item: Any) -> KeyInfo:
    where = f"{path}: key #{n + 1}"
    if not isinstance(item, dict):
        raise BundleError(f"{where} is not an object")
    if item.get("algorithm") != "ed25519":
        raise BundleError(
            f"{where} has algorithm {item.get('algorithm')!r}; bundles carry ed25519 keys only"
        )
    try:
        raw = base64.b64decode(str(item.get("public_key", "")), validate=True)
    except binascii.Error:
        raise BundleError(f"{where}: public_key is not base64") from None
    if len(raw) != 32:
        raise BundleError(f"{where}: public_key is {len(raw)} bytes; an Ed25519 key is 32")
    fields: dict[str, type | tuple[type, ...]] = {
        "keyid": str,
        "name": str,
        "added_at": int,
        "retired_at": (int, type(None)),
        "revoked_at": (int, type(None)),
        "revocation_reason": (str, type(None)),
    }
    for name, kind in fields.items():
        if not isinstance(item.get(name), kind) or isinstance(item.get(name), bool):
            raise BundleError(f"{where}: field {name!r} is missing or has the wrong type")
    return KeyInfo(
        item["keyid"],
        item["name"],
        raw,
        item["added_at"],
        item["retired_at"],
        item["revoked_at"],
        item["revocation_reason"],
    )


def _iter_lines(path: Path) -> Iterator[bytes]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise BundleError(f"bundle file {path} is missing") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for line in handle:
            yield line[:-1] if line.endswith(b"\n") else line


def verify_bundle(
    directory: Path,
    *,
    witness: FileWitness | None = None,
    trusted_keyids: Collection[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify a bundle directory with nothing but its three files (and an optional witness).

    Raises :class:`BundleError` when a file is missing or unreadable; returns a
    failed report for anything that is readable but does not verify.
    """
    if not directory.is_dir():
        raise BundleError(f"bundle directory {directory} does not exist")
    checkpoint = _read_checkpoint(directory / CHECKPOINT)
    origin, keys = _read_keys(directory / KEYS)
    if origin != checkpoint.origin:
        raise BundleError(
            f"{directory / KEYS} is for origin {origin!r}, the checkpoint for {checkpoint.origin!r}"
        )
    seen = witness.read() if witness is not None else None
    report = verify_log(
        _iter_lines(directory / ENTRIES),
        [checkpoint],
        trusted_keyids=trusted_keyids,
        witness=seen,
        published_keys=keys,
        require_full_cover=True,
        where=lambda i: f"{ENTRIES} line {i + 1}",
        progress=progress,
    )
    if report.ok and witness is not None:
        witness.advance(checkpoint)
    return report
