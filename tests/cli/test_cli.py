"""The ``grace`` command as a user runs it: real subprocesses on a real workspace."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.ledger import verify_consistency, verify_inclusion

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]


def run(
    home: Path, *args: str, cwd: Path | None = None, check_code: int | None = 0
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRACE_HOME": str(home)}
    done = subprocess.run(
        [*GRACE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )
    if check_code is not None:
        assert done.returncode == check_code, (done.stdout, done.stderr)
    return done


def run_json(home: Path, *args: str, check_code: int = 0) -> Any:
    return json.loads(run(home, *args, "--json", check_code=check_code).stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "project" / ".grace"


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x,y\n1,2\n")
    return path


def test_every_command_documents_itself() -> None:
    commands = [
        [],
        ["init"],
        ["status"],
        ["attest"],
        ["verify"],
        ["keys"],
        ["keys", "show"],
        ["keys", "rotate"],
        ["keys", "revoke"],
        ["ledger"],
        ["ledger", "tail"],
        ["ledger", "show"],
        ["ledger", "proof"],
        ["ledger", "consistency"],
        ["ledger", "checkpoint"],
        ["ledger", "export"],
        ["ledger", "verifications"],
        ["run"],
        ["install"],
        ["doctor"],
        ["sandbox"],
        ["sandbox", "run"],
        ["quarantine"],
        ["quarantine", "add"],
        ["quarantine", "list"],
        ["quarantine", "show"],
        ["quarantine", "restore"],
    ]
    groups = {"keys", "ledger", "sandbox", "quarantine"}  # a group's own help has no --json
    for words in commands:
        done = subprocess.run([*GRACE, *words, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, words
        assert "Usage:" in done.stdout
        if (words and words[0] not in groups) or len(words) == 2:
            assert "--json" in done.stdout, words


def test_status_before_init_says_how_to_start(home: Path) -> None:
    assert run_json(home, "status") == {"workspace": str(home), "initialized": False}
    assert "grace init" in run(home, "status").stdout
    assert not home.exists()


def test_init_creates_private_workspace_once(home: Path) -> None:
    first = run_json(home, "init")
    assert first["created"] is True
    assert (home.stat().st_mode & 0o777) == 0o700
    key_files = list((home / "keys").iterdir())
    assert [f.name for f in key_files] == [f"{first['active_keyid']}.pem"]
    assert (key_files[0].stat().st_mode & 0o777) == 0o600
    second = run_json(home, "init")
    assert second["created"] is False
    assert second["active_keyid"] == first["active_keyid"]


def test_attest_verify_prove_export_round_trip(home: Path, data_file: Path, tmp_path: Path) -> None:
    run(home, "init")
    attested = run_json(home, "attest", str(data_file), "--predicate", '{"run": 7}')
    assert attested["index"] == 1
    digest = hashlib.sha256(data_file.read_bytes()).hexdigest()
    # The name is relative to the project root (the directory holding .grace).
    assert attested["subjects"] == [{"name": "results.csv", "sha256": digest}]

    status = run_json(home, "status")
    assert status["size"] == 2
    assert status["trust"] == "service"
    assert status["latest_checkpoint"]["size"] == 2  # written at clean shutdown

    shown = run_json(home, "ledger", "show", "1")
    assert shown["statement"]["predicate"]["run"] == 7
    assert shown["statement"]["predicate"]["chain"]["sequence"] == 1

    proof = run_json(home, "ledger", "proof", "1")
    assert proof["verified"] is True
    assert proof["root_signed_by_checkpoint"] is True
    verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )

    for _ in range(3):
        run(home, "attest", str(data_file))
    consistency = run_json(home, "ledger", "consistency", "2")
    verify_consistency(
        2,
        consistency["new_size"],
        bytes.fromhex(consistency["old_root"]),
        bytes.fromhex(consistency["new_root"]),
        [bytes.fromhex(p) for p in consistency["proof"]],
    )

    report = run_json(home, "verify")
    assert report["ok"] is True
    assert report["size"] == 5
    assert report["first_bad_index"] is None

    bundle = tmp_path / "bundle"
    exported = run_json(home, "ledger", "export", "--out", str(bundle))
    assert exported["size"] == 5
    lines = (bundle / "entries.jsonl").read_bytes().splitlines()
    assert len(lines) == 5
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bundle_report = run_json(elsewhere / ".grace", "verify", "--bundle", str(bundle))
    assert bundle_report["ok"] is True
    assert bundle_report["root"] == exported["root"]
    assert not (elsewhere / ".grace").exists()  # verifying a bundle needs no workspace


def test_tail_lists_newest_records(home: Path, data_file: Path) -> None:
    run(home, "init")
    run(home, "attest", str(data_file))
    tail = run_json(home, "ledger", "tail", "-n", "5")
    assert [e["index"] for e in tail] == [0, 1]
    assert tail[0]["predicate_type"] == "urn:grace:predicate:key-add:v1"
    assert "results.csv" in run(home, "ledger", "tail").stdout


def test_rotation_keeps_old_records_valid_and_revocation_is_listed(
    home: Path, data_file: Path
) -> None:
    first = run_json(home, "init")["active_keyid"]
    run(home, "attest", str(data_file))
    rotated = run_json(home, "keys", "rotate")
    assert rotated["keyid"] != first
    run(home, "attest", str(data_file))
    revoked = run_json(home, "keys", "revoke", first[:12], "--reason", "laptop stolen")
    assert revoked["revoked"]["revoked_at"] == 4
    assert revoked["rotated_to"] is None  # the revoked key was already retired
    keys = {k["keyid"]: k for k in run_json(home, "keys", "show")}
    assert keys[first]["status"] == "revoked"
    assert keys[first]["revocation_reason"] == "laptop stolen"
    assert keys[rotated["keyid"]]["status"] == "active"
    assert run_json(home, "verify")["ok"] is True


def test_revoking_the_active_key_rotates_first(home: Path) -> None:
    active = run_json(home, "init")["active_keyid"]
    result = run_json(home, "keys", "revoke", active)
    assert result["rotated_to"]["keyid"] != active
    assert run_json(home, "status")["active_keyid"] == result["rotated_to"]["keyid"]
    assert run_json(home, "verify")["ok"] is True


def test_verify_fails_with_index_after_direct_database_edit(home: Path, data_file: Path) -> None:
    run(home, "init")
    for _ in range(4):
        run(home, "attest", str(data_file))
    with sqlite3.connect(home / "grace.db") as conn:
        (blob,) = conn.execute("SELECT envelope FROM ledger_entries WHERE idx = 3").fetchone()
        conn.execute(
            "UPDATE ledger_entries SET envelope = ? WHERE idx = 3",
            (bytes(blob).replace(b'"sig":"', b'"sig":"AAAA', 1),),
        )
    done = run(home, "verify", check_code=1)
    assert "first bad index 3" in done.stdout
    report = run_json(home, "verify", check_code=1)
    assert report["ok"] is False
    assert report["first_bad_index"] == 3
    assert "record 3" in report["problem"]
    failed, *_ = run_json(home, "ledger", "verifications")  # the failure stays on record
    assert (failed["ok"], failed["first_bad_index"], failed["via"]) == (False, 3, "cli")
    assert "FAILED" in run(home, "status").stdout


def test_every_verification_joins_the_history(home: Path, data_file: Path) -> None:
    run(home, "init")
    assert "verified:    never" in run(home, "status").stdout
    assert "no verification yet" in run(home, "ledger", "verifications").stdout
    run(home, "attest", str(data_file))
    run(home, "verify")
    run(home, "attest", str(data_file))
    run(home, "verify")
    newest, older = run_json(home, "ledger", "verifications")
    assert newest["size"] == older["size"] + 1
    assert (newest["ok"], older["ok"]) == (True, True)
    assert newest["at"] >= older["at"]
    assert newest["via"] == "cli"
    assert newest["by"].startswith("user:")
    status = run_json(home, "status")
    assert status["last_verification"] == newest
    assert f"OK  {newest['size']} records" in run(home, "status").stdout
    (only,) = run_json(home, "ledger", "verifications", "-n", "1")
    assert only == newest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["attest", "missing.txt"], "missing.txt: no such file"),
        (["attest", "{data}", "--predicate", "[1, 2]"], "--predicate must be a JSON object"),
        (["attest", "{data}", "--predicate", '{"a": 1, "a": 2}'], "duplicate JSON key"),
        (["attest", "{data}", "--predicate", '{"chain": 1}'], "'chain' is reserved"),
        (["attest", "{data}", "--predicate-type", "not a urn"], "must be a URN"),
        (["ledger", "show", "99"], "record 99 does not exist"),
        (["ledger", "proof", "0", "--size", "50"], "tree size 50"),
        (["keys", "revoke", "abc"], "matches 0 keys"),
        (["verify", "--witness", "w"], "go with --bundle"),
        (["verify", "--bundle", "no-such-dir"], "does not exist"),
    ],
)
def test_bad_input_gives_a_diagnosis_and_exit_2(
    home: Path, data_file: Path, args: list[str], message: str
) -> None:
    run(home, "init")
    words = [a.replace("{data}", str(data_file)) for a in args]
    done = run(home, *words, cwd=data_file.parent, check_code=2)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    as_json = json.loads(run(home, *words, "--json", cwd=data_file.parent, check_code=2).stdout)
    assert as_json["ok"] is False
    assert message in as_json["error"]["message"]


def test_commands_on_a_missing_workspace_exit_4(home: Path) -> None:
    done = run(home, "verify", check_code=4)
    assert f"no Grace workspace at {home}" in done.stderr
    assert "grace init" in done.stderr


def test_a_corrupt_database_is_named_not_a_traceback(home: Path) -> None:
    run(home, "init")
    for suffix in ("-wal", "-shm"):
        Path(f"{home / 'grace.db'}{suffix}").unlink(missing_ok=True)
    (home / "grace.db").write_bytes(b"this is not a database" * 100)
    done = run(home, "status", check_code=4)
    assert str(home / "grace.db") in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unsafe_key_file_is_refused_with_the_fix(home: Path, data_file: Path) -> None:
    keyid = run_json(home, "init")["active_keyid"]
    key_file = home / "keys" / f"{keyid}.pem"
    key_file.chmod(0o644)
    done = run(home, "attest", str(data_file), check_code=4)
    assert str(key_file) in done.stderr
    assert f"chmod 600 {key_file}" in done.stderr
