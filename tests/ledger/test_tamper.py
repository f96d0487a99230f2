"""Attacks on a real ledger: each must fail verification and name the first bad index.

Every record-level attack is played twice: on an exported bundle (lines of
``entries.jsonl``, checked with :func:`verify_bundle`) and on the live SQLite
file (edited with :mod:`sqlite3` while no workspace has it open, checked with
:meth:`Workspace.verify`).  See ``conftest.py`` for the template ledger: K1
founds it, is rotated out at record 12 and revoked at record 21; K2 is active;
30 records; checkpoints at 8, 16, 24 and 30.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.errors import GraceError, IntegrityError
from grace_kernel.ledger import (
    Checkpoint,
    FileWitness,
    VerifyReport,
    export_bundle,
    leaf_hash,
    verify_bundle,
)
from grace_kernel.workspace import Workspace
from tests.ledger.conftest import (
    CHECKPOINT_SIZES,
    ENTRIES,
    REVOKED_AT,
    ROTATED_AT,
    SIZE,
    TEST_PREDICATE,
    LedgerCopy,
    append_records,
    b64,
    db_execute,
    db_query,
    db_rewrite_entries,
    edited_root,
    flip_bit,
    forge_record,
    fresh_signer,
    read_checkpoint,
    read_lines,
    settings_for,
    sign_checkpoint,
    signature_of,
    subject,
    verify_live,
    with_payload,
    with_signature,
    write_checkpoint,
    write_lines,
)

Envelopes = list[bytes]


def assert_fails_at(report: VerifyReport, index: int | None, *fragments: str) -> None:
    assert not report.ok, "the tampered ledger verified"
    assert report.problem is not None
    assert report.first_bad_index == index, report.problem
    for fragment in fragments:
        assert fragment in report.problem


def bundle_location(index: int) -> str:
    return f"record {index} ({ENTRIES} line {index + 1}): "


# --------------------------------------------------------------------------- baseline


def test_untouched_bundle_verifies(ledger: LedgerCopy) -> None:
    report = verify_bundle(ledger.bundle, trusted_keyids=[ledger.first_keyid])

    assert report.ok
    assert (report.size, report.covered, report.checkpoints_checked) == (SIZE, SIZE, 1)
    assert report.first_bad_index is None
    assert report.problem is None
    assert report.genesis_keyid == ledger.first_keyid
    keys = {k.keyid: k for k in report.keys}
    assert (keys[ledger.first_keyid].retired_at, keys[ledger.first_keyid].revoked_at) == (
        ROTATED_AT,
        REVOKED_AT,
    )
    assert keys[ledger.second_keyid].status() == "active"


def test_untouched_workspace_verifies(ledger: LedgerCopy) -> None:
    report = verify_live(ledger.settings)

    assert report.ok, report.problem
    assert (report.size, report.covered) == (SIZE, SIZE)
    assert report.checkpoints_checked == len(CHECKPOINT_SIZES) + 1  # and the witness
    assert report.first_bad_index is None


# --------------------------------------------------------------------------- record attacks


@dataclasses.dataclass(frozen=True)
class RecordAttack:
    """Turns the genuine records into the attacker's; verification must fail at ``index``."""

    tamper: Callable[[LedgerCopy, Envelopes], Envelopes]
    index: int
    problem: str


def _edit_payload(k: int) -> Callable[[LedgerCopy, Envelopes], Envelopes]:
    def tamper(_: LedgerCopy, records: Envelopes) -> Envelopes:
        def edit(doc: dict[str, Any]) -> None:
            doc["subject"][0]["digest"]["sha256"] = "0" * 64

        records[k] = with_payload(records[k], edit)
        return records

    return tamper


def _flip_signature(_: LedgerCopy, records: Envelopes) -> Envelopes:
    records[7] = with_signature(records[7], flip_bit(signature_of(records[7]), 10))
    return records


def _borrow_signature(_: LedgerCopy, records: Envelopes) -> Envelopes:
    records[8] = with_signature(records[8], signature_of(records[9]))
    return records


def _add_second_signature(_: LedgerCopy, records: Envelopes) -> Envelopes:
    doc = json.loads(records[4])
    doc["signatures"].append(dict(doc["signatures"][0]))
    records[4] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return records


def _delete(k: int) -> Callable[[LedgerCopy, Envelopes], Envelopes]:
    def tamper(_: LedgerCopy, records: Envelopes) -> Envelopes:
        del records[k]
        return records

    return tamper


def _swap(a: int, b: int) -> Callable[[LedgerCopy, Envelopes], Envelopes]:
    def tamper(_: LedgerCopy, records: Envelopes) -> Envelopes:
        records[a], records[b] = records[b], records[a]
        return records

    return tamper


def _replay(source: int, at: int) -> Callable[[LedgerCopy, Envelopes], Envelopes]:
    def tamper(_: LedgerCopy, records: Envelopes) -> Envelopes:
        records.insert(at, records[source])
        return records

    return tamper


def _splice_forged(
    at: int, *, key: str, claim: str | None = None, replace: bool = False
) -> Callable[[LedgerCopy, Envelopes], Envelopes]:
    """Insert (or put in place of record ``at``) a record with correct chain fields.

    ``key`` is "fresh" (an Ed25519 key the log never saw) or "first" (K1, read
    from the key store); ``claim`` = "second" puts K2's key id on the signature.
    """

    def tamper(copy: LedgerCopy, records: Envelopes) -> Envelopes:
        signer = fresh_signer() if key == "fresh" else copy.signer(copy.first_keyid)
        keyid = copy.second_keyid if claim == "second" else None
        forged = forge_record(signer, index=at, previous=leaf_hash(records[at - 1]), keyid=keyid)
        if replace:
            records[at] = forged
        else:
            records.insert(at, forged)
        return records

    return tamper


def _re_encode(_: LedgerCopy, records: Envelopes) -> Envelopes:
    # Same payload, same signature, different bytes: json.dumps' default spacing.
    records[5] = json.dumps(json.loads(records[5]), sort_keys=True).encode()
    return records


def _garbage(_: LedgerCopy, records: Envelopes) -> Envelopes:
    records[11] = b"this is not a record"
    return records


RECORD_ATTACKS = [
    pytest.param(RecordAttack(_edit_payload(0), 0, "signature does not verify"), id="payload-0"),
    pytest.param(RecordAttack(_edit_payload(5), 5, "signature does not verify"), id="payload-5"),
    pytest.param(RecordAttack(_edit_payload(14), 14, "signature does not verify"), id="payload-14"),
    pytest.param(RecordAttack(_edit_payload(29), 29, "signature does not verify"), id="payload-29"),
    pytest.param(RecordAttack(_flip_signature, 7, "signature does not verify"), id="sig-bit-flip"),
    pytest.param(
        RecordAttack(_borrow_signature, 8, "signature does not verify"), id="sig-of-another"
    ),
    pytest.param(RecordAttack(_add_second_signature, 4, "carries 2 signatures"), id="two-sigs"),
    pytest.param(
        RecordAttack(_delete(9), 9, "says it is record 10 but sits at position 9"), id="delete-9"
    ),
    pytest.param(
        RecordAttack(_delete(0), 0, "the first record must found the log"), id="delete-founding"
    ),
    pytest.param(
        RecordAttack(_delete(29), 29, "a signed checkpoint covers 30 records, the log has 29"),
        id="delete-last",
    ),
    pytest.param(RecordAttack(_swap(3, 9), 3, "says it is record 9"), id="swap-3-9"),
    pytest.param(
        RecordAttack(_swap(3, 17), 3, "which the log never introduced"), id="swap-across-rotation"
    ),
    pytest.param(RecordAttack(_swap(10, 11), 10, "says it is record 11"), id="swap-adjacent"),
    pytest.param(RecordAttack(_replay(6, 10), 10, "says it is record 6"), id="replay-6-at-10"),
    pytest.param(
        RecordAttack(_splice_forged(10, key="fresh"), 10, "which the log never introduced"),
        id="insert-unknown-key",
    ),
    pytest.param(
        RecordAttack(_splice_forged(SIZE, key="fresh"), SIZE, "which the log never introduced"),
        id="append-unknown-key",
    ),
    pytest.param(
        RecordAttack(
            _splice_forged(25, key="fresh", claim="second"), 25, "signature does not verify"
        ),
        id="insert-unknown-key-claiming-active-id",
    ),
    pytest.param(
        RecordAttack(_splice_forged(25, key="first"), 25, f"revoked at record {REVOKED_AT}"),
        id="insert-revoked-key",
    ),
    pytest.param(
        RecordAttack(_splice_forged(SIZE, key="first"), SIZE, f"revoked at record {REVOKED_AT}"),
        id="append-revoked-key",
    ),
    pytest.param(
        RecordAttack(_splice_forged(15, key="first"), 15, f"retired at record {ROTATED_AT}"),
        id="insert-retired-key",
    ),
    pytest.param(
        RecordAttack(
            _splice_forged(15, key="first", replace=True), 15, f"retired at record {ROTATED_AT}"
        ),
        id="replace-by-retired-key",
    ),
    pytest.param(RecordAttack(_re_encode, 5, "canonical form"), id="re-encoded-same-signature"),
    pytest.param(RecordAttack(_garbage, 11, "malformed"), id="garbage"),
]


@pytest.mark.parametrize("attack", RECORD_ATTACKS)
def test_tampered_bundle_names_first_bad_record(ledger: LedgerCopy, attack: RecordAttack) -> None:
    bundle = ledger.bundle_copy()
    write_lines(bundle / ENTRIES, attack.tamper(ledger, ledger.envelopes()))

    report = verify_bundle(bundle)

    assert_fails_at(report, attack.index, bundle_location(attack.index), attack.problem)
    ledger.assert_pristine_bundle_verifies()


@pytest.mark.parametrize("attack", RECORD_ATTACKS)
def test_tampered_database_names_first_bad_record(ledger: LedgerCopy, attack: RecordAttack) -> None:
    db_rewrite_entries(ledger.db_path, attack.tamper(ledger, ledger.envelopes()))

    report = verify_live(ledger.settings)

    assert_fails_at(report, attack.index, f"record {attack.index}: ", attack.problem)
    ledger.assert_pristine_bundle_verifies()


# --------------------------------------------------------------------------- direct SQL edits


def _update_garbage(copy: LedgerCopy) -> None:
    db_execute(copy.db_path, "UPDATE ledger_entries SET envelope = ? WHERE idx = 11", [b"\xff{"])


def _update_edited_payload(copy: LedgerCopy) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["predicate"]["n"] = 1011

    envelope = with_payload(copy.envelopes()[11], edit)
    db_execute(copy.db_path, "UPDATE ledger_entries SET envelope = ? WHERE idx = 11", [envelope])


def _update_re_encoded(copy: LedgerCopy) -> None:
    envelope = copy.envelopes()[11] + b" "
    db_execute(copy.db_path, "UPDATE ledger_entries SET envelope = ? WHERE idx = 11", [envelope])


def _delete_row(copy: LedgerCopy) -> None:
    assert db_execute(copy.db_path, "DELETE FROM ledger_entries WHERE idx = 11") == 1


def _swap_rows(copy: LedgerCopy) -> None:
    records = copy.envelopes()
    sql = "UPDATE ledger_entries SET envelope = ? WHERE idx = ?"
    db_execute(copy.db_path, sql, [records[5], 11])
    db_execute(copy.db_path, sql, [records[11], 5])


@pytest.mark.parametrize(
    ("edit", "index", "problem"),
    [
        pytest.param(_update_garbage, 11, "malformed", id="garbage"),
        pytest.param(_update_edited_payload, 11, "signature does not verify", id="edited-payload"),
        pytest.param(_update_re_encoded, 11, "canonical form", id="re-encoded"),
        pytest.param(_delete_row, 11, "says it is record 12 but sits at position 11", id="deleted"),
        pytest.param(_swap_rows, 5, "says it is record 11", id="swapped"),
    ],
)
def test_row_edited_in_sqlite_names_its_index(
    ledger: LedgerCopy, edit: Callable[[LedgerCopy], None], index: int, problem: str
) -> None:
    edit(ledger)

    report = verify_live(ledger.settings)

    assert_fails_at(report, index, f"record {index}: ", problem)


def test_stored_leaf_hashes_are_not_trusted(ledger: LedgerCopy) -> None:
    """Rewriting a row's envelope while keeping its old leaf hash hides nothing."""
    records = ledger.envelopes()
    forged = forge_record(fresh_signer(), index=11, previous=leaf_hash(records[10]))
    db_execute(ledger.db_path, "UPDATE ledger_entries SET envelope = ? WHERE idx = 11", [forged])
    assert db_query(ledger.db_path, "SELECT leaf_hash FROM ledger_entries WHERE idx = 11") == [
        (leaf_hash(records[11]),)
    ]

    assert_fails_at(verify_live(ledger.settings), 11, "never introduced")


# --------------------------------------------------------------------------- checkpoints


@dataclasses.dataclass(frozen=True)
class CheckpointAttack:
    forge: Callable[[LedgerCopy, Checkpoint], Checkpoint]
    problem: str


def _resigned_by(key: str, *, edit: bool) -> Callable[[LedgerCopy, Checkpoint], Checkpoint]:
    def forge(copy: LedgerCopy, cp: Checkpoint) -> Checkpoint:
        if key == "fresh":
            signer = fresh_signer()
        else:
            signer = copy.signer(copy.first_keyid if key == "first" else copy.second_keyid)
        root = edited_root(cp).root if edit else cp.root
        return sign_checkpoint(cp.origin, cp.size, root, signer)

    return forge


NOT_SIGNED = "is not signed by the log's active key"
CHECKPOINT_ATTACKS = [
    pytest.param(CheckpointAttack(lambda _, cp: edited_root(cp), NOT_SIGNED), id="root-edited"),
    pytest.param(
        CheckpointAttack(_resigned_by("fresh", edit=True), NOT_SIGNED),
        id="root-edited-resigned-by-attacker",
    ),
    pytest.param(
        CheckpointAttack(_resigned_by("fresh", edit=False), NOT_SIGNED),
        id="resigned-by-attacker",
    ),
    pytest.param(
        CheckpointAttack(_resigned_by("first", edit=True), NOT_SIGNED),
        id="root-edited-resigned-by-retired-key",
    ),
    pytest.param(
        CheckpointAttack(_resigned_by("second", edit=True), "(the log was rewritten)"),
        id="root-edited-resigned-by-active-key",
    ),
]


@pytest.mark.parametrize("attack", CHECKPOINT_ATTACKS)
def test_bundle_checkpoint_forgery_fails(ledger: LedgerCopy, attack: CheckpointAttack) -> None:
    bundle = ledger.bundle_copy()
    write_checkpoint(
        bundle / "checkpoint", attack.forge(ledger, read_checkpoint(bundle / "checkpoint"))
    )

    report = verify_bundle(bundle)

    # A checkpoint is not a record: the report names the checkpoint, not an index.
    assert_fails_at(report, None, f"checkpoint at size {SIZE} ", attack.problem)
    ledger.assert_pristine_bundle_verifies()


@pytest.mark.parametrize("attack", CHECKPOINT_ATTACKS)
def test_database_checkpoint_forgery_fails(ledger: LedgerCopy, attack: CheckpointAttack) -> None:
    [(note,)] = db_query(ledger.db_path, "SELECT note FROM ledger_checkpoints WHERE size = 16")
    forged = attack.forge(ledger, Checkpoint.from_text(note))
    db_execute(
        ledger.db_path, "UPDATE ledger_checkpoints SET note = ? WHERE size = 16", [forged.to_text()]
    )

    report = verify_live(ledger.settings)

    assert_fails_at(report, None, "checkpoint at size 16 ", attack.problem)


def test_bundle_checkpoint_with_edited_size_fails(ledger: LedgerCopy) -> None:
    bundle = ledger.bundle_copy()
    checkpoint = read_checkpoint(bundle / "checkpoint")
    write_checkpoint(bundle / "checkpoint", dataclasses.replace(checkpoint, size=SIZE - 1))

    assert_fails_at(verify_bundle(bundle), None, f"checkpoint at size {SIZE - 1} ", NOT_SIGNED)


def test_bundle_checkpoint_not_covering_every_entry_fails(ledger: LedgerCopy) -> None:
    bundle = ledger.bundle_copy()
    [(note,)] = db_query(ledger.db_path, "SELECT note FROM ledger_checkpoints WHERE size = 24")
    (bundle / "checkpoint").write_text(note, encoding="utf-8")

    report = verify_bundle(bundle)

    assert_fails_at(report, 24, "records 24..29 are not covered by the signed checkpoint")
    ledger.assert_pristine_bundle_verifies()


# --------------------------------------------------------------------------- truncation, rollback


def _grow_and_export(copy: LedgerCopy, extra: int, name: str) -> Path:
    with Workspace.open(copy.settings) as ws:
        append_records(ws, SIZE, SIZE + extra)
        export_bundle(ws.ledger, copy.root / name)
    return copy.root / name


@pytest.mark.parametrize(
    ("old_checkpoint", "problem"),
    [
        pytest.param(True, "rolled back: a witness saw 40 records, the log now has 30", id="old"),
        pytest.param(False, "a signed checkpoint covers 40 records, the log has 30", id="new"),
    ],
)
def test_bundle_truncated_to_older_size_is_caught(
    ledger: LedgerCopy, old_checkpoint: bool, problem: str
) -> None:
    witness = FileWitness(ledger.root / "verifier" / "witness")
    assert verify_bundle(ledger.bundle, witness=witness).ok
    grown = _grow_and_export(ledger, 10, "bundle-40")
    assert verify_bundle(grown, witness=witness).ok
    remembered = witness.read()
    assert remembered is not None
    assert remembered.size == SIZE + 10

    cut = ledger.root / "cut"
    shutil.copytree(grown, cut)
    write_lines(cut / ENTRIES, read_lines(cut / ENTRIES)[:SIZE])
    if old_checkpoint:
        shutil.copyfile(ledger.bundle / "checkpoint", cut / "checkpoint")
        # On its own the cut bundle is self-consistent: that is what the witness is for.
        assert verify_bundle(cut).ok

    report = verify_bundle(cut, witness=witness)

    assert_fails_at(report, SIZE, bundle_location(SIZE), problem)
    assert witness.read() == remembered
    assert verify_bundle(grown, witness=witness).ok


@pytest.mark.parametrize(
    ("drop_checkpoints", "problem"),
    [
        pytest.param(
            True, "rolled back: a witness saw 30 records, the log now has 16", id="witness"
        ),
        pytest.param(
            False, "a signed checkpoint covers 30 records, the log has 16", id="checkpoint"
        ),
    ],
)
def test_database_tail_deleted_is_caught(
    ledger: LedgerCopy, drop_checkpoints: bool, problem: str
) -> None:
    assert db_execute(ledger.db_path, "DELETE FROM ledger_entries WHERE idx >= 16") == SIZE - 16
    if drop_checkpoints:
        db_execute(ledger.db_path, "DELETE FROM ledger_checkpoints WHERE size > 16")

    report = verify_live(ledger.settings)

    assert_fails_at(report, 16, "record 16: ", problem)


def test_database_rollback_followed_by_new_records_is_caught(ledger: LedgerCopy) -> None:
    """Cut the tail, let the writer carry on past the old size: the witness must still object.

    The writer may refuse to continue once it notices; either way the
    rewritten history must not verify.
    """
    db_execute(ledger.db_path, "DELETE FROM ledger_entries WHERE idx >= 16")
    db_execute(ledger.db_path, "DELETE FROM ledger_checkpoints WHERE size > 16")
    db_execute(ledger.db_path, "DELETE FROM ledger_nodes WHERE ((idx + 1) << level) > 16")

    with contextlib.suppress(GraceError), Workspace.open(ledger.settings) as ws:
        for n in range(16, SIZE + 10):
            ws.ledger.append(
                subjects=[subject(f"rewritten{n}")],
                predicate_type=TEST_PREDICATE,
                predicate={"n": n, "rewritten": True},
            )

    report = verify_live(ledger.settings)

    assert not report.ok, "a rolled-back and rewritten history verified"
    assert report.problem is not None
    assert "witness" in report.problem


# --------------------------------------------------------------------------- founding keys


def test_bundle_founded_by_untrusted_key_fails_at_record_0(ledger: LedgerCopy) -> None:
    report = verify_bundle(ledger.bundle, trusted_keyids=[fresh_signer().keyid])

    assert_fails_at(report, 0, bundle_location(0), "which is not a trusted key")


def test_foreign_founding_record_fails_at_record_0(ledger: LedgerCopy, tmp_path: Path) -> None:
    with Workspace.open(settings_for(tmp_path / "intruder" / ".grace")) as ws:
        export_bundle(ws.ledger, tmp_path / "intruder-bundle")
    bundle = ledger.bundle_copy()
    records = ledger.envelopes()
    records[0] = read_lines(tmp_path / "intruder-bundle" / ENTRIES)[0]
    write_lines(bundle / ENTRIES, records)

    report = verify_bundle(bundle, trusted_keyids=[ledger.first_keyid])

    assert_fails_at(report, 0, bundle_location(0), "which is not a trusted key")


def test_foreign_bundle_fails_at_record_0(ledger: LedgerCopy, tmp_path: Path) -> None:
    with Workspace.open(settings_for(tmp_path / "intruder" / ".grace")) as ws:
        append_records(ws, 1, SIZE)
        export_bundle(ws.ledger, tmp_path / "intruder-bundle")
    assert verify_bundle(tmp_path / "intruder-bundle").ok

    report = verify_bundle(tmp_path / "intruder-bundle", trusted_keyids=[ledger.first_keyid])

    assert_fails_at(report, 0, "which is not a trusted key")


def test_database_replaced_by_foreign_ledger_fails_at_record_0(
    ledger: LedgerCopy, tmp_path: Path
) -> None:
    intruder = settings_for(tmp_path / "intruder" / ".grace")
    with Workspace.open(intruder) as ws:
        append_records(ws, 1, SIZE + 5)
    shutil.copyfile(intruder.db_path, ledger.db_path)

    report = verify_live(ledger.settings)

    assert_fails_at(report, 0, "record 0: ", "which is not a trusted key")


def test_database_emptied_is_refused_not_refounded(ledger: LedgerCopy) -> None:
    """An empty database in a workspace that has signed before: no silent new ledger."""
    ledger.db_path.write_bytes(b"")

    with pytest.raises(IntegrityError, match="holds no records, but this workspace has signed"):
        Workspace.open(ledger.settings)
    with contextlib.closing(sqlite3.connect(ledger.db_path)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()
    assert count == 0  # nothing was founded over the loss


# --------------------------------------------------------------------------- keys.json


def _keys_doc(bundle: Path) -> dict[str, Any]:
    doc = json.loads((bundle / "keys.json").read_bytes())
    assert isinstance(doc, dict)
    return doc


def _key(doc: dict[str, Any], keyid: str) -> dict[str, Any]:
    [item] = [k for k in doc["keys"] if k["keyid"] == keyid]
    assert isinstance(item, dict)
    return item


def _drop_first(copy: LedgerCopy, doc: dict[str, Any]) -> str:
    doc["keys"].remove(_key(doc, copy.first_keyid))
    return f"keys.json lacks key {copy.first_keyid[:16]} introduced at record 0"


def _hide_revocation(copy: LedgerCopy, doc: dict[str, Any]) -> str:
    _key(doc, copy.first_keyid).update(revoked_at=None, revocation_reason=None)
    return f"keys.json describes key {copy.first_keyid[:16]} differently from the log"


def _swap_public_key(copy: LedgerCopy, doc: dict[str, Any]) -> str:
    _key(doc, copy.second_keyid)["public_key"] = b64(fresh_signer().public.raw)
    return f"keys.json describes key {copy.second_keyid[:16]} differently from the log"


def _add_extra(_: LedgerCopy, doc: dict[str, Any]) -> str:
    extra = fresh_signer()
    doc["keys"].append(
        {
            "keyid": extra.keyid,
            "name": doc["origin"],
            "algorithm": "ed25519",
            "public_key": b64(extra.public.raw),
            "added_at": 25,
            "retired_at": None,
            "revoked_at": None,
            "revocation_reason": None,
        }
    )
    return f"keys.json lists key {extra.keyid[:16]}, which the log never introduced"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_drop_first, id="key-missing"),
        pytest.param(_hide_revocation, id="revocation-hidden"),
        pytest.param(_swap_public_key, id="public-key-swapped"),
        pytest.param(_add_extra, id="extra-key"),
    ],
)
def test_keys_json_disagreeing_with_log_fails(
    ledger: LedgerCopy, edit: Callable[[LedgerCopy, dict[str, Any]], str]
) -> None:
    bundle = ledger.bundle_copy()
    doc = _keys_doc(bundle)
    problem = edit(ledger, doc)
    (bundle / "keys.json").write_text(json.dumps(doc), encoding="utf-8")

    report = verify_bundle(bundle)

    assert_fails_at(report, None, problem)
    ledger.assert_pristine_bundle_verifies()


def test_key_table_edited_in_sqlite_is_caught_on_export(ledger: LedgerCopy) -> None:
    """Clearing a revocation in ledger_keys makes the exported keys.json contradict the log."""
    changed = db_execute(
        ledger.db_path,
        "UPDATE ledger_keys SET revoked_at = NULL, revocation_reason = NULL WHERE keyid = ?",
        [ledger.first_keyid],
    )
    assert changed == 1
    with Workspace.open(ledger.settings) as ws:
        export_bundle(ws.ledger, ledger.root / "exported")

    report = verify_bundle(ledger.root / "exported")

    assert_fails_at(report, None, f"keys.json describes key {ledger.first_keyid[:16]} differently")


# --------------------------------------------------------------------------- derived tables


def test_live_key_table_edit_is_caught_by_workspace_verify(ledger: LedgerCopy) -> None:
    """The ledger_keys table is derived data; hiding a revocation in it is reported."""
    db_execute(
        ledger.db_path,
        "UPDATE ledger_keys SET revoked_at = NULL, revocation_reason = NULL WHERE keyid = ?",
        (ledger.first_keyid,),
    )

    report = verify_live(ledger.settings)

    assert report.ok is False
    assert report.first_bad_index is None
    assert f"describes key {ledger.first_keyid[:16]} differently" in (report.problem or "")


def test_malformed_stored_checkpoint_is_a_failed_report_not_a_crash(ledger: LedgerCopy) -> None:
    db_execute(ledger.db_path, "UPDATE ledger_checkpoints SET note = 'garbage' WHERE size = 16")

    report = verify_live(ledger.settings)

    assert report.ok is False
    assert report.first_bad_index is None
    assert "stored checkpoint at size 16 is malformed" in (report.problem or "")
