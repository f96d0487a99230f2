"""Offline verification of a whole log: the pure core, no I/O.

:func:`verify_log` takes record bytes in log order (from a database or a
bundle), the signed checkpoints, and optionally a witness checkpoint and a
published key list, and checks, for each record in turn:

1. the envelope parses strictly (no duplicate keys) and carries one signature;
2. the signing key was introduced by the log itself (the first record founds
   the log with a self-signed key-add; later keys arrive only through rotation
   records signed by the key they replace), is the active key at that point,
   and is not revoked;
3. the signature verifies over DSSE's PAE of the exact payload bytes;
4. the statement parses strictly and its chain fields match: ``sequence`` is
   the record's position and ``previous`` is the leaf hash of the record before.

It recomputes the RFC 9162 tree over SHA-256(0x00 || stored bytes) and, at
every checkpoint's size, checks the checkpoint's signature (by the key active
at that size) and root.  Every checkpoint root is recomputed from the same leaf
sequence, which proves the checkpoints consistent with each other.  A
checkpoint larger than the log means records were cut; a witness larger than
the log means the log was rolled back.

The verifier trusts nothing it is given except ``trusted_keyids`` (the keys a
founder may use) and the witness.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from grace_kernel.errors import InputError, MalformedRecordError
from grace_kernel.ledger._checkpoint import Checkpoint
from grace_kernel.ledger._dsse import IN_TOTO_PAYLOAD_TYPE, Envelope, pae
from grace_kernel.ledger._keys import PublicKey
from grace_kernel.ledger._ledger import KEY_ADD, KEY_REVOKE, KEY_ROTATE, origin_for
from grace_kernel.ledger._merkle import CompactRange, leaf_hash
from grace_kernel.ledger._statement import GENESIS_PREVIOUS, Statement
from grace_kernel.ledger._store import KeyInfo

__all__ = ["VerifyReport", "verify_log"]


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    ok: bool
    size: int
    first_bad_index: int | None
    problem: str | None
    origin: str | None = None
    root: bytes | None = None
    genesis_keyid: str | None = None
    checkpoints_checked: int = 0
    covered: int = 0
    keys: tuple[KeyInfo, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "first_bad_index": self.first_bad_index,
            "problem": self.problem,
            "origin": self.origin,
            "root": None if self.root is None else self.root.hex(),
            "genesis_keyid": self.genesis_keyid,
            "checkpoints_checked": self.checkpoints_checked,
            "covered_by_checkpoint": self.covered,
        }


class _Bad(Exception):
    def __init__(self, index: int | None, problem: str) -> None:
        super().__init__(problem)
        self.index = index
        self.problem = problem


class _KeyState:
    """Which keys the log has introduced, which one may sign now, which are revoked."""

    def __init__(self) -> None:
        self.keys: dict[str, PublicKey] = {}
        self.infos: dict[str, KeyInfo] = {}
        self.active: str | None = None

    def introduce(self, index: int, raw_key: Any, origin: str) -> str:
        if not isinstance(raw_key, dict) or raw_key.get("algorithm") != "ed25519":
            raise _Bad(index, "key record does not carry an ed25519 key")
        try:
            public = PublicKey(base64.b64decode(raw_key.get("public_key", ""), validate=True))
        except (binascii.Error, InputError, TypeError) as exc:
            raise _Bad(index, f"key record carries an unusable public key: {exc}") from None
        if raw_key.get("keyid") != public.keyid:
            raise _Bad(index, "key record's keyid is not the SHA-256 of its public key")
        if public.keyid in self.keys:
            raise _Bad(index, f"key {public.keyid[:16]} is introduced twice")
        self.keys[public.keyid] = public
        self.infos[public.keyid] = KeyInfo(public.keyid, origin, public.raw, added_at=index)
        if self.active is not None:
            self.infos[self.active] = dataclasses.replace(self.infos[self.active], retired_at=index)
        self.active = public.keyid
        return public.keyid

    def signer_for(self, index: int, keyid: str) -> PublicKey:
        info = self.infos.get(keyid)
        if info is None:
            raise _Bad(index, f"signed by key {keyid[:16]}, which the log never introduced")
        if info.revoked_at is not None:
            raise _Bad(index, f"signed by key {keyid[:16]}, revoked at record {info.revoked_at}")
        if keyid != self.active:
            raise _Bad(
                index,
                f"signed by key {keyid[:16]}, retired at record {info.retired_at} "
                "(rotated out; only the active key may sign)",
            )
        return self.keys[keyid]


def verify_log(
    records: Iterable[bytes],
    checkpoints: Sequence[Checkpoint],
    *,
    trusted_keyids: Collection[str] | None = None,
    witness: Checkpoint | None = None,
    published_keys: Sequence[KeyInfo] | None = None,
    require_full_cover: bool = False,
    where: Callable[[int], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify every record, checkpoint and key event; the report names the first bad index.

    ``where(i)`` adds a location to messages (e.g. a bundle's line numbers);
    ``progress(n)`` is called every 4096 records.
    """
    state = _KeyState()
    compact = CompactRange()
    due: dict[int, list[tuple[str, Checkpoint]]] = {}
    for cp in checkpoints:
        due.setdefault(cp.size, []).append(("checkpoint", cp))
    if witness is not None:
        due.setdefault(witness.size, []).append(("witness", witness))
    size = 0
    origin: str | None = None
    genesis: str | None = None
    checked = 0
    covered = 0
    previous = GENESIS_PREVIOUS

    def locate(index: int) -> str:
        return f"record {index}" + (f" ({where(index)})" if where else "")

    try:
        for raw in records:
            i = size
            try:
                envelope = Envelope.from_bytes(raw, canonical=True)
                if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
                    raise _Bad(i, f"payload type {envelope.payload_type!r} is not in-toto")
                if len(envelope.signatures) != 1:
                    raise _Bad(i, f"carries {len(envelope.signatures)} signatures, expected 1")
                signature = envelope.signatures[0]
                if i == 0:
                    statement = Statement.from_payload(envelope.payload)
                    origin, genesis = _found(state, statement, signature.keyid, trusted_keyids)
                    if witness is not None and witness.origin != origin:
                        raise _Bad(
                            0,
                            f"this log is {origin!r}, but the witness saw {witness.origin!r} "
                            "(the log was replaced)",
                        )
                    key = state.keys[genesis]
                else:
                    key = state.signer_for(i, signature.keyid)
                if not key.verify(signature.sig, pae(envelope.payload_type, envelope.payload)):
                    raise _Bad(i, "signature does not verify (payload or signature altered)")
                if i:
                    statement = Statement.from_payload(envelope.payload)
            except MalformedRecordError as exc:
                raise _Bad(i, f"malformed: {exc.message}") from None
            chain = statement.chain
            if chain.sequence != i:
                raise _Bad(
                    i,
                    f"says it is record {chain.sequence} but sits at position {i} "
                    "(records deleted, inserted or reordered)",
                )
            if chain.previous != previous:
                raise _Bad(i, "hash link broken: it does not name the record before it")
            kind = statement.predicate_type
            if kind == KEY_ADD and i:
                raise _Bad(i, "a key-add record after the first one (keys arrive by rotation)")
            if kind == KEY_ROTATE:
                new = statement.predicate.get("key")
                if statement.predicate.get("previous_keyid") != signature.keyid:
                    raise _Bad(i, "rotation record is not signed by the key it retires")
                state.introduce(i, new, origin or "")
            elif kind == KEY_REVOKE:
                target = statement.predicate.get("keyid")
                info = state.infos.get(target) if isinstance(target, str) else None
                if info is None:
                    raise _Bad(i, "revocation names a key the log never introduced")
                state.infos[info.keyid] = dataclasses.replace(
                    info,
                    revoked_at=i,
                    revocation_reason=str(statement.predicate.get("reason", "")),
                )
                if state.active == info.keyid:
                    state.active = None
            leaf = leaf_hash(raw)
            compact.append(leaf)
            previous = leaf.hex()
            size = i + 1
            if size in due:
                checked += _check_due(due.pop(size), size, compact.root(), state, origin)
                covered = max(covered, size)
            if progress is not None and not size & 4095:
                progress(size)
        if progress is not None:
            progress(size)
        _check_tail(due, size, require_full_cover, covered, bool(checkpoints))
        if published_keys is not None:
            _compare_keys(state, published_keys)
    except _Bad as bad:
        problem = bad.problem if bad.index is None else f"{locate(bad.index)}: {bad.problem}"
        return VerifyReport(
            ok=False,
            size=size,
            first_bad_index=bad.index,
            problem=problem,
            origin=origin,
            genesis_keyid=genesis,
            checkpoints_checked=checked,
            covered=covered,
        )
    return VerifyReport(
        ok=True,
        size=size,
        first_bad_index=None,
        problem=None,
        origin=origin,
        root=compact.root(),
        genesis_keyid=genesis,
        checkpoints_checked=checked,
        covered=covered,
        keys=tuple(state.infos.values()),
    )


def _found(
    state: _KeyState, statement: Statement, keyid: str, trusted: Collection[str] | None
) -> tuple[str, str]:
    if statement.predicate_type != KEY_ADD:
        raise _Bad(0, "the first record must found the log with a key-add record")
    raw_key = statement.predicate.get("key")
    origin = statement.predicate.get("origin")
    if not isinstance(raw_key, dict) or raw_key.get("keyid") != keyid:
        raise _Bad(0, "the founding record is not signed by the key it introduces")
    if origin != origin_for(keyid):
        raise _Bad(0, f"the founding record's origin {origin!r} does not match its key")
    if trusted is not None and keyid not in trusted:
        raise _Bad(0, f"founded by key {keyid[:16]}, which is not a trusted key")
    state.introduce(0, raw_key, origin)
    return origin, keyid


def _check_due(
    items: list[tuple[str, Checkpoint]],
    size: int,
    root: bytes,
    state: _KeyState,
    origin: str | None,
) -> int:
    for label, cp in items:
        if cp.origin != origin:
            raise _Bad(None, f"{label} at size {size} is for origin {cp.origin!r}, not {origin!r}")
        keyid = state.active
        key = state.keys.get(keyid) if keyid else None
        if key is None:
            raise _Bad(None, f"{label} at size {size}: no key may sign at that point")
        if not cp.signed_by(key):
            raise _Bad(None, f"{label} at size {size} is not signed by the log's active key")
        if cp.root != root:
            raise _Bad(
                None,
                f"{label} at size {size} signs root {cp.root.hex()[:16]}, but the records "
                f"hash to {root.hex()[:16]} (the log was rewritten)",
            )
    return len(items)


def _check_tail(
    due: dict[int, list[tuple[str, Checkpoint]]],
    size: int,
    require_full_cover: bool,
    covered: int,
    has_checkpoints: bool,
) -> None:
    if due:
        largest = max(due)
        labels = {label for label, _ in due[largest]}
        if "witness" in labels and "checkpoint" not in labels:
            raise _Bad(
                size,
                f"rolled back: a witness saw {largest} records, the log now has {size} "
                f"(records {size}..{largest - 1} are missing)",
            )
        raise _Bad(
            size,
            f"a signed checkpoint covers {largest} records, the log has {size} "
            f"(records {size}..{largest - 1} are missing)",
        )
    if require_full_cover:
        if not has_checkpoints:
            raise _Bad(None, "no signed checkpoint")
        if covered != size:
            raise _Bad(
                covered,
                f"records {covered}..{size - 1} are not covered by the signed checkpoint",
            )


def _compare_keys(state: _KeyState, published: Sequence[KeyInfo]) -> None:
    listed = {k.keyid: k for k in published}
    for keyid, info in state.infos.items():
        other = listed.pop(keyid, None)
        if other is None:
            raise _Bad(
                None, f"keys.json lacks key {keyid[:16]} introduced at record {info.added_at}"
            )
        if other != info:
            raise _Bad(None, f"keys.json describes key {keyid[:16]} differently from the log")
    if listed:
        extra = next(iter(listed))
        raise _Bad(None, f"keys.json lists key {extra[:16]}, which the log never introduced")
