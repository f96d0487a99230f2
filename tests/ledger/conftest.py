"""Shared fixtures for the ledger's attack tests: a real workspace, and an attacker's tools.

The template ledger is built once per session with real components
(:class:`Workspace`, :class:`FileKeyStore`, SQLite) and copied for each test::

    0        key-add (founding key K1)
    1..11    test records
    12       key-rotate K1 -> K2 (signed by K1, which retires)
    13..20   test records
    21       key-revoke K1 (signed by K2)
    22..29   test records

Checkpoints are signed every 8 records (sizes 8, 16, 24) and at export/close
(size 30); the workspace witness remembers size 30.  Next to ``.grace`` sits
``bundle/``, exported at size 30.

The helpers below play the attacker: they forge well-formed records with any
private key, rewrite bundle lines, and edit the SQLite file directly.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError
from grace_kernel.ledger import (
    IN_TOTO_PAYLOAD_TYPE,
    Checkpoint,
    Envelope,
    FileKeyStore,
    Signature,
    Statement,
    Subject,
    VerifyReport,
    canonical_json,
    export_bundle,
    leaf_hash,
    pae,
    verify_bundle,
)
from grace_kernel.ledger._checkpoint import NoteSignature, note_key_hash
from grace_kernel.ledger._keys import Signer
from grace_kernel.ledger._merkle import TreeLevels
from grace_kernel.ledger._statement import Chain
from grace_kernel.workspace import Workspace

TEST_PREDICATE = "urn:grace:predicate:test:v1"
CHECKPOINT_EVERY = 8
ROTATED_AT = 12
REVOKED_AT = 21
SIZE = 30
CHECKPOINT_SIZES = (8, 16, 24, 30)
ENTRIES = "entries.jsonl"


def settings_for(home: Path) -> Settings:
    """Small, deterministic settings: a checkpoint every 8 records, no timer."""
    return Settings(home=home, checkpoint_every=CHECKPOINT_EVERY, checkpoint_interval=0.0)


def subject(tag: str) -> Subject:
    return Subject(f"data/{tag}.csv", hashlib.sha256(tag.encode()).hexdigest())


def append_records(ws: Workspace, start: int, stop: int) -> None:
    for n in range(start, stop):
        entry = ws.ledger.append(
            subjects=[subject(f"r{n}")], predicate_type=TEST_PREDICATE, predicate={"n": n}
        )
        assert entry.index == n


@dataclasses.dataclass(frozen=True)
class Template:
    root: Path
    first_keyid: str
    second_keyid: str


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    root = tmp_path_factory.mktemp("template")
    with Workspace.open(settings_for(root / ".grace")) as ws:
        first = ws.ledger.info()["genesis_keyid"]
        append_records(ws, 1, ROTATED_AT)
        second = ws.ledger.rotate_key().keyid
        append_records(ws, ROTATED_AT + 1, REVOKED_AT)
        revoked, rotated = ws.ledger.revoke_key(first, reason="laptop stolen")
        assert revoked.revoked_at == REVOKED_AT
        assert rotated is None
        append_records(ws, REVOKED_AT + 1, SIZE)
        summary = export_bundle(ws.ledger, root / "bundle")
        assert summary.size == SIZE
    assert isinstance(first, str)
    return Template(root, first, second)


@dataclasses.dataclass(frozen=True)
class LedgerCopy:
    """A private copy of the template workspace and bundle for one test."""

    root: Path
    first_keyid: str
    second_keyid: str

    @property
    def settings(self) -> Settings:
        return settings_for(self.root / ".grace")

    @property
    def db_path(self) -> Path:
        return self.settings.db_path

    @property
    def bundle(self) -> Path:
        """The pristine bundle; tamper with a :meth:`bundle_copy`, never with this."""
        return self.root / "bundle"

    def bundle_copy(self, name: str = "tampered") -> Path:
        target = self.root / name
        shutil.copytree(self.bundle, target)
        return target

    def envelopes(self) -> list[bytes]:
        return read_lines(self.bundle / ENTRIES)

    def signer(self, keyid: str) -> Signer:
        """A private key straight out of the workspace's key store (what an intruder could read)."""
        return FileKeyStore(self.settings.keys_dir).load(keyid)

    def assert_pristine_bundle_verifies(self) -> None:
        report = verify_bundle(self.bundle)
        assert report.ok, report.problem
        assert report.size == SIZE


@pytest.fixture
def ledger(template: Template, tmp_path: Path) -> LedgerCopy:
    root = tmp_path / "copy"
    shutil.copytree(template.root, root)
    return LedgerCopy(root, template.first_keyid, template.second_keyid)


# --------------------------------------------------------------------------- attacker tools


def fresh_signer() -> Signer:
    """A valid Ed25519 key the log has never heard of."""
    return Signer(Ed25519PrivateKey.generate())


def forge_record(
    signer: Signer,
    *,
    index: int,
    previous: bytes,
    keyid: str | None = None,
    predicate: dict[str, Any] | None = None,
) -> bytes:
    """A well-formed record with correct chain fields, signed by ``signer``.

    ``keyid`` lets the forger claim another key's id on the signature.
    """
    chain = Chain(index, previous.hex(), "2030-01-01T00:00:00.000000Z", "service")
    body = {"forged": True} if predicate is None else predicate
    statement = Statement((subject(f"forged{index}"),), TEST_PREDICATE, body, chain)
    payload = statement.to_payload()
    sig = signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload))
    signature = Signature(signer.keyid if keyid is None else keyid, sig)
    return Envelope(payload, IN_TOTO_PAYLOAD_TYPE, (signature,)).to_bytes()


def with_payload(raw: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The same envelope (same signature) around an edited, re-canonicalized statement."""
    envelope = Envelope.from_bytes(raw)
    doc = json.loads(envelope.payload)
    edit(doc)
    changed = dataclasses.replace(envelope, payload=canonical_json(doc))
    return changed.to_bytes()


def with_signature(raw: bytes, sig: bytes) -> bytes:
    envelope = Envelope.from_bytes(raw)
    signature = dataclasses.replace(envelope.signatures[0], sig=sig)
    return dataclasses.replace(envelope, signatures=(signature,)).to_bytes()


def flip_bit(data: bytes, position: int = 0) -> bytes:
    return data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]


def signature_of(raw: bytes) -> bytes:
    return Envelope.from_bytes(raw).signatures[0].sig


def sign_checkpoint(origin: str, size: int, root: bytes, signer: Signer) -> Checkpoint:
    """A checkpoint note signed by ``signer`` under the log's origin name."""
    body = Checkpoint(origin, size, root, ()).body
    sig = NoteSignature(origin, note_key_hash(origin, signer.public.raw), signer.sign(body))
    return Checkpoint(origin, size, root, (sig,))


def edited_root(checkpoint: Checkpoint) -> Checkpoint:
    """The checkpoint with one bit of its root flipped and its signatures kept."""
    return dataclasses.replace(checkpoint, root=flip_bit(checkpoint.root, 5))


def read_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def write_lines(path: Path, lines: Sequence[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def read_checkpoint(path: Path) -> Checkpoint:
    return Checkpoint.from_text(path.read_text(encoding="utf-8"))


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    path.write_text(checkpoint.to_text(), encoding="utf-8")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- the database


def db_execute(db_path: Path, sql: str, params: Sequence[object] = ()) -> int:
    """Run one statement on the closed workspace's database file; returns rows changed."""
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            changed = conn.execute(sql, tuple(params)).rowcount
    finally:
        conn.close()
    return changed


def db_query(db_path: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    finally:
        conn.close()


def db_rewrite_entries(db_path: Path, envelopes: Sequence[bytes]) -> None:
    """Make the entries table hold exactly ``envelopes``, as a thorough intruder would.

    Changed rows are updated in place, surplus rows deleted, missing ones
    inserted; leaf hashes and the stored tree nodes are recomputed so that the
    database is internally consistent and only the signatures and chain can
    betray the change.
    """
    tree = TreeLevels([leaf_hash(e) for e in envelopes])
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            old = dict(conn.execute("SELECT idx, envelope FROM ledger_entries").fetchall())
            conn.execute("DELETE FROM ledger_entries WHERE idx >= ?", (len(envelopes),))
            for idx, envelope in enumerate(envelopes):
                if idx not in old:
                    conn.execute(
                        "INSERT INTO ledger_entries (idx, envelope, leaf_hash) VALUES (?, ?, ?)",
                        (idx, envelope, leaf_hash(envelope)),
                    )
                elif bytes(old[idx]) != envelope:
                    conn.execute(
                        "UPDATE ledger_entries SET envelope = ?, leaf_hash = ? WHERE idx = ?",
                        (envelope, leaf_hash(envelope), idx),
                    )
            conn.execute("DELETE FROM ledger_nodes")
            conn.executemany(
                "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)",
                [
                    (level, idx, node)
                    for level, nodes in enumerate(tree.levels)
                    if level
                    for idx, node in enumerate(nodes)
                ],
            )
    finally:
        conn.close()


def verify_live(settings: Settings) -> VerifyReport:
    """Open the workspace and verify it; a failed verification must not move the witness."""
    witness_before = settings.witness_path.read_bytes()
    report: VerifyReport | None = None
    ws = Workspace.open(settings)
    try:
        report = ws.verify()
        if not report.ok:
            assert settings.witness_path.read_bytes() == witness_before, (
                "a failed verification changed the witness"
            )
    finally:
        try:
            ws.close()
        except GraceError:
            # Closing signs a final checkpoint; the writer may refuse over a tampered log.
            if report is None or report.ok:
                raise
    return report
