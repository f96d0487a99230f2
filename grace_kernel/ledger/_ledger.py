"""The ledger writer: signs statements into DSSE envelopes and appends them to the log.

Durability ("acknowledged"): :meth:`Ledger.append` returns only after the
record is committed.  With ``sync="normal"`` (the default) a committed record
survives the process being killed at any moment; with ``sync="full"`` it also
survives an operating-system crash or power loss.  :meth:`Ledger.batch` groups
many appends into one commit: they are acknowledged together when the block
exits without error, and none of them is kept if it raises.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from grace_kernel.errors import InputError, IntegrityError, StoreError
from grace_kernel.ledger._checkpoint import Checkpoint, NoteSignature, note_key_hash
from grace_kernel.ledger._dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    Envelope,
    encode_grace_envelope,
    pae,
)
from grace_kernel.ledger._keys import KeyStore, Signer
from grace_kernel.ledger._merkle import (
    completed_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    subtree_root,
)
from grace_kernel.ledger._statement import (
    GENESIS_PREVIOUS,
    Chain,
    Statement,
    Subject,
    predicate_type_urn,
)
from grace_kernel.ledger._store import KeyInfo, LedgerStore, LedgerTxn, StoredCheckpoint
from grace_kernel.ledger._witness import FileWitness

__all__ = [
    "KEY_ADD",
    "KEY_REVOKE",
    "KEY_ROTATE",
    "Clock",
    "Entry",
    "InclusionProof",
    "Ledger",
    "SystemClock",
    "origin_for",
]

KEY_ADD = predicate_type_urn("key-add")
KEY_ROTATE = predicate_type_urn("key-rotate")
KEY_REVOKE = predicate_type_urn("key-revoke")


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


def origin_for(genesis_keyid: str) -> str:
    """A log's origin line: stable, derived from the key that founded it."""
    return f"grace.local/{genesis_keyid[:16]}"


@functools.lru_cache(maxsize=4)
def _rfc3339_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _rfc3339(ts: float) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-24T02:30:00.123456Z``."""
    micros = round(ts * 1_000_000)
    second, fraction = divmod(micros, 1_000_000)
    return f"{_rfc3339_second(second)}.{fraction:06d}Z"


def key_json(keyid: str, name: str, public_raw: bytes) -> dict[str, str]:
    return {
        "keyid": keyid,
        "name": name,
        "algorithm": "ed25519",
        "public_key": base64.b64encode(public_raw).decode("ascii"),
    }


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One record as stored: its index, exact envelope bytes and leaf hash."""

    index: int
    envelope: bytes
    leaf_hash: bytes

    def decode(self) -> tuple[Envelope, Statement]:
        envelope = Envelope.from_bytes(self.envelope)
        return envelope, Statement.from_payload(envelope.payload)

    def describe(self, *, full: bool = False) -> dict[str, Any]:
        """What a person (or a script) reads about the record; ``full`` adds the bytes."""
        envelope, statement = self.decode()
        data: dict[str, Any] = {
            "index": self.index,
            "leaf_hash": self.leaf_hash.hex(),
            "predicate_type": statement.predicate_type,
            "recorded_at": statement.chain.recorded_at,
            "keyid": envelope.signatures[0].keyid,
            "subjects": [{"name": s.name, "sha256": s.sha256} for s in statement.subjects],
        }
        if full:
            data["statement"] = json.loads(envelope.payload)
            data["envelope"] = self.envelope.decode("utf-8")
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "root": self.root.hex(),
            "proof": [p.hex() for p in self.proof],
        }


class Batch:
    """Appends that share one transaction; see :meth:`Ledger.batch`."""

    def __init__(self, ledger: Ledger, txn: LedgerTxn) -> None:
        self._ledger = ledger
        self._txn = txn
        self.entries: list[Entry] = []

    def append(
        self,
        *,
        subjects: Sequence[Subject],
        predicate_type: str,
        predicate: Mapping[str, Any],
    ) -> Entry:
        entry = self._ledger._append_in(self._txn, tuple(subjects), predicate_type, predicate)
        self._ledger._maybe_checkpoint(self._txn, entry.index + 1, self._ledger._last_now)
        self.entries.append(entry)
        return entry


class Ledger:
    """Appends signed records and serves proofs; the only code that signs.

    Opening a ledger on an empty store founds it: a first key is created and
    its self-signed key-add record becomes record 0.
    """

    def __init__(
        self,
        *,
        store: LedgerStore,
        keys: KeyStore,
        clock: Clock | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        trust: str = "service",
        witness: FileWitness | None = None,
    ) -> None:
        self.store = store
        self._keys = keys
        self._clock = clock or SystemClock()
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._trust = trust
        self._witness = witness
        self._signers: dict[str, Signer] = {}
        self._last_now = 0.0
        self._closed = False
        # Held across a write transaction *and* the witness update that follows
        # its commit, so the witness never runs ahead of what is committed.
        self._write_lock = threading.RLock()
        self._uncommitted: list[Checkpoint] = []
        # Told of each committed checkpoint (the workspace turns it into an event).
        self.on_checkpoint: Callable[[Checkpoint], None] | None = None
        with self._write() as txn:
            if txn.size() == 0:
                self._found(txn)

    # ------------------------------------------------------------------ lifecycle

    def _found(self, txn: LedgerTxn) -> None:
        signer = self._keys.create()
        origin = origin_for(signer.keyid)
        txn.set_meta("origin", origin)
        txn.set_meta("active_keyid", signer.keyid)
        txn.set_meta("genesis_keyid", signer.keyid)
        self._signers[signer.keyid] = signer
        self._append_in(
            txn,
            (Subject(f"ed25519:{signer.keyid}", signer.keyid),),
            KEY_ADD,
            {"key": key_json(signer.keyid, origin, signer.public.raw), "origin": origin},
        )
        txn.put_key(KeyInfo(signer.keyid, origin, signer.public.raw, added_at=0))
        self._maybe_checkpoint(txn, 1)

    def close(self) -> None:
        """Clean shutdown: checkpoint any records written since the last checkpoint."""
        if self._closed:
            return
        try:
            self.checkpoint()
        finally:
            self._closed = True
            self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def append(
        self,
        *,
        subjects: Sequence[Subject],
        predicate_type: str,
        predicate: Mapping[str, Any],
    ) -> Entry:
        """Sign and append one record; returns once it is committed (acknowledged)."""
        with self.batch() as batch:
            return batch.append(
                subjects=subjects, predicate_type=predicate_type, predicate=predicate
            )

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """Append several records in one commit (all or none)."""
        if self._closed:
            raise StoreError("the ledger is closed")
        with self._write() as txn:
            yield Batch(self, txn)

    @contextlib.contextmanager
    def _write(self) -> Iterator[LedgerTxn]:
        """One write transaction; the witness hears of its checkpoints only after the commit."""
        with self._write_lock:
            self._uncommitted.clear()
            try:
                with self.store.write() as txn:
                    yield txn
            except BaseException:
                self._uncommitted.clear()
                raise
            if self._uncommitted:
                newest = max(self._uncommitted, key=lambda c: c.size)
                self._uncommitted.clear()
                if self._witness is not None:
                    self._witness.advance(newest)
                if self.on_checkpoint is not None:
                    self.on_checkpoint(newest)

    def replay(self, envelopes: Iterable[bytes]) -> int:
        """Append records already signed for this log (salvaged after a restore from an
        older copy), in one commit.  Each must continue the chain exactly: its sequence
        is the next index and its ``previous`` the last leaf; their signatures are
        checked by the next verification like any other record's.
        """
        count = 0
        with self._write() as txn:
            for envelope in envelopes:
                _, statement = Entry(0, envelope, b"").decode()
                index, previous = txn.size(), txn.last_leaf()
                expected = previous.hex() if previous else GENESIS_PREVIOUS
                if statement.chain.sequence != index or statement.chain.previous != expected:
                    raise IntegrityError(
                        f"record {statement.chain.sequence} does not continue this log at "
                        f"{index}: it cannot be replayed",
                        hint="replay only the records that directly follow the restored copy",
                    )
                leaf = leaf_hash(envelope)
                txn.add_entry(index, envelope, leaf, completed_nodes(index, leaf, txn.perfect))
                count += 1
            if count:
                self._maybe_checkpoint(txn, txn.size())
        return count

    def _signer(self, txn: LedgerTxn) -> Signer:
        keyid = txn.get_meta("active_keyid")
        if keyid is None:
            raise StoreError(f"ledger {self.store.location} has no active key recorded")
        signer = self._signers.get(keyid)
        if signer is None:
            signer = self._signers[keyid] = self._keys.load(keyid)
        return signer

    def _append_in(
        self,
        txn: LedgerTxn,
        subjects: tuple[Subject, ...],
        predicate_type: str,
        predicate: Mapping[str, Any],
    ) -> Entry:
        Statement.check_parts(subjects, predicate_type, predicate)
        index = txn.size()
        previous = txn.last_leaf()
        now = self._last_now = self._clock.now()
        chain = Chain(
            index, previous.hex() if previous else GENESIS_PREVIOUS, _rfc3339(now), self._trust
        )
        payload = Statement(subjects, predicate_type, predicate, chain).to_payload()
        signer = self._signer(txn)
        signature = signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload))
        envelope = encode_grace_envelope(payload, signer.keyid, signature)
        leaf = leaf_hash(envelope)
        txn.add_entry(index, envelope, leaf, completed_nodes(index, leaf, txn.perfect))
        return Entry(index, envelope, leaf)

    def _maybe_checkpoint(self, txn: LedgerTxn, size: int, now: float | None = None) -> None:
        """Checkpoint every N records or T seconds; signed by the key active after the record."""
        if now is None:
            now = self._clock.now()
        latest = txn.latest_checkpoint()
        last_size, last_time = (latest.size, latest.created_at) if latest else (0, 0.0)
        if size - last_size >= self._every or (
            self._interval and size > last_size and now - last_time >= self._interval
        ):
            self._write_checkpoint(txn, size, now)

    def _write_checkpoint(self, txn: LedgerTxn, size: int, now: float) -> Checkpoint:
        origin = self._origin(txn)
        root = subtree_root(0, size, txn.perfect)
        signer = self._signer(txn)
        body = Checkpoint(origin, size, root, ()).body
        sig = NoteSignature(origin, note_key_hash(origin, signer.public.raw), signer.sign(body))
        checkpoint = Checkpoint(origin, size, root, (sig,))
        self._check_witness(txn, origin, size)
        txn.add_checkpoint(StoredCheckpoint(size, checkpoint.to_text(), now))
        self._uncommitted.append(checkpoint)
        return checkpoint

    def _check_witness(self, txn: LedgerTxn, origin: str, size: int) -> None:
        """Refuse to sign a checkpoint over a log that no longer holds what the witness saw.

        Without this, records appended after a rollback would carry the log past
        the witness's size and the next checkpoint would paper over the gap.
        """
        seen = self._witness.read() if self._witness is not None else None
        if seen is None or seen.size > size:
            return
        if seen.origin != origin or subtree_root(0, seen.size, txn.perfect) != seen.root:
            raise IntegrityError(
                f"the ledger no longer holds the {seen.size} records its witness saw: "
                "it was rolled back or replaced; refusing to sign a checkpoint over it",
                hint="run `grace verify` and restore the ledger from a bundle",
            )

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint covering every record now, unless the latest already does."""
        with self._write() as txn:
            size = txn.size()
            latest = txn.latest_checkpoint()
            if latest is not None and latest.size == size:
                return Checkpoint.from_text(latest.note)
            if size == 0:
                return None
            return self._write_checkpoint(txn, size, self._clock.now())

    # ------------------------------------------------------------------ keys

    def rotate_key(self) -> KeyInfo:
        """Make a new key; the rotation record is signed by the old one, which then retires."""
        with self._write() as txn:
            old = self._signer(txn)
            new = self._keys.create()
            origin = self._origin(txn)
            entry = self._append_in(
                txn,
                (Subject(f"ed25519:{new.keyid}", new.keyid),),
                KEY_ROTATE,
                {"key": key_json(new.keyid, origin, new.public.raw), "previous_keyid": old.keyid},
            )
            self._signers[new.keyid] = new
            txn.set_meta("active_keyid", new.keyid)
            infos = {k.keyid: k for k in txn.list_keys()}
            txn.put_key(dataclasses.replace(infos[old.keyid], retired_at=entry.index))
            info = KeyInfo(new.keyid, origin, new.public.raw, added_at=entry.index)
            txn.put_key(info)
            self._maybe_checkpoint(txn, entry.index + 1)
            return info

    def revoke_key(self, keyid: str, *, reason: str) -> tuple[KeyInfo, KeyInfo | None]:
        """Record that ``keyid`` is revoked from this point on.

        Revoking the active key first rotates to a new one (returned second),
        because a ledger always needs one key that may still sign.
        """
        with self._write() as txn:
            infos = {k.keyid: k for k in txn.list_keys()}
            matches = [k for k in infos if k.startswith(keyid)] if len(keyid) >= 8 else []
            if len(matches) != 1:
                raise InputError(
                    f"key id {keyid!r} matches {len(matches)} keys of this ledger",
                    hint="give at least 8 leading hex digits of one key (see `grace keys show`)",
                )
            target = infos[matches[0]]
            if target.revoked_at is not None:
                raise InputError(f"key {target.keyid[:16]} is already revoked")
        rotated = self.rotate_key() if target.retired_at is None else None
        with self._write() as txn:
            entry = self._append_in(
                txn,
                (Subject(f"ed25519:{target.keyid}", target.keyid),),
                KEY_REVOKE,
                {"keyid": target.keyid, "reason": reason},
            )
            current = {k.keyid: k for k in txn.list_keys()}[target.keyid]
            revoked = dataclasses.replace(current, revoked_at=entry.index, revocation_reason=reason)
            txn.put_key(revoked)
            self._maybe_checkpoint(txn, entry.index + 1)
        return revoked, rotated

    # ------------------------------------------------------------------ reading

    def _origin(self, txn: LedgerTxn) -> str:
        origin = txn.get_meta("origin")
        if origin is None:
            raise StoreError(f"ledger {self.store.location} has no origin recorded")
        return origin

    @property
    def origin(self) -> str:
        with self.store.read() as txn:
            return self._origin(txn)

    def info(self) -> dict[str, Any]:
        with self.store.read() as txn:
            latest = txn.latest_checkpoint()
            return {
                "size": txn.size(),
                "origin": txn.get_meta("origin"),
                "active_keyid": txn.get_meta("active_keyid"),
                "genesis_keyid": txn.get_meta("genesis_keyid"),
                "latest_checkpoint": None
                if latest is None
                else {"size": latest.size, "created_at": _rfc3339(latest.created_at)},
            }

    @property
    def size(self) -> int:
        with self.store.read() as txn:
            return txn.size()

    def list_keys(self) -> list[KeyInfo]:
        with self.store.read() as txn:
            return txn.list_keys()

    def entry(self, index: int) -> Entry:
        with self.store.read() as txn:
            size = txn.size()
            if not 0 <= index < size:
                raise InputError(f"record {index} does not exist (the ledger has {size})")
            envelope = txn.envelope(index)
            return Entry(index, envelope, txn.perfect(0, index))

    def tail(self, count: int) -> list[Entry]:
        if count < 0:
            raise InputError("count must not be negative")
        with self.store.read() as txn:
            size = txn.size()
            return [
                Entry(i, txn.envelope(i), txn.perfect(0, i))
                for i in range(max(0, size - count), size)
            ]

    def latest_checkpoint(self) -> Checkpoint | None:
        with self.store.read() as txn:
            latest = txn.latest_checkpoint()
        return None if latest is None else Checkpoint.from_text(latest.note)

    def signed_checkpoint(self, size: int) -> Checkpoint | None:
        with self.store.read() as txn:
            stored = txn.checkpoint_at(size)
        return None if stored is None else Checkpoint.from_text(stored.note)

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        with self.store.read() as txn:
            current = txn.size()
            tree_size = current if size is None else size
            if not 0 < tree_size <= current:
                raise InputError(f"tree size {tree_size} is not within 1..{current}")
            path = inclusion_proof(index, tree_size, txn.perfect)
            return InclusionProof(
                index,
                tree_size,
                txn.perfect(0, index),
                subtree_root(0, tree_size, txn.perfect),
                tuple(path),
            )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        with self.store.read() as txn:
            current = txn.size()
            new = current if new_size is None else new_size
            if not 0 < old_size <= new <= current:
                raise InputError(f"need 0 < old ({old_size}) <= new ({new}) <= size ({current})")
            return consistency_proof(old_size, new, txn.perfect)

    def root(self, size: int | None = None) -> bytes:
        with self.store.read() as txn:
            return subtree_root(0, txn.size() if size is None else size, txn.perfect)
