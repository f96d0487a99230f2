"""``grace`` subcommands for the workspace, its keys and its ledger."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from grace_kernel.errors import InputError
from grace_kernel.ledger import (
    Checkpoint,
    FileWitness,
    InclusionProof,
    KeyInfo,
    PublicKey,
    VerifyReport,
    export_bundle,
    verify_bundle,
    verify_consistency,
    verify_inclusion,
)
from grace_kernel.ledger._canonical import loads_strict
from grace_kernel.workspace import ATTESTATION, Workspace

from ._health import health_lines, health_status
from ._output import Result, grace_command, json_mode, settings_from_env, utc_time


def _open(*, create: bool = False) -> Workspace:
    return Workspace.open(settings_from_env(), create=create)


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long work, only for humans at a terminal."""
    if json_mode() or not sys.stderr.isatty() or total < 10_000:
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:

        def update(done: int) -> None:
            bar.update(done - bar.pos)

        yield update


# ---------------------------------------------------------------- init / status


@click.command()
@grace_command
def init() -> Result:
    """Create the workspace (.grace/) with its first signing key, if it does not exist.

    The workspace is GRACE_HOME, else the nearest .grace directory at or above
    the current directory, else ./.grace.
    """
    settings = settings_from_env()
    existed = settings.db_path.exists()
    with Workspace.open(settings, create=True) as ws:
        status = ws.status()
    status["created"] = not existed
    verb = "exists" if existed else "created"
    text = f"workspace {verb}: {status['workspace']}\nsigning key: {status['active_keyid']}"
    return status, text, 0


@click.command()
@grace_command
def status() -> Result:
    """Show the workspace, signing key, ledger size, latest checkpoint, trust mode, and
    health: each component checked now, the mode and recent incidents."""
    settings = settings_from_env()
    if not settings.db_path.exists():
        empty = {"workspace": str(settings.home), "initialized": False}
        return empty, f"no workspace at {settings.home} (run `grace init`)", 0
    with Workspace.open(settings, create=False) as ws:
        data: dict[str, Any] = {"initialized": True, **ws.status()}
        data["health"] = health_status(ws)
    cp = data["latest_checkpoint"]
    lines = [
        f"workspace:   {data['workspace']}",
        f"database:    {data['database']} (sync={data['sync']})",
        f"origin:      {data['origin']}",
        f"signing key: {data['active_keyid']}",
        f"ledger:      {data['size']} records",
        "checkpoint:  "
        + ("none yet" if cp is None else f"size {cp['size']} at {cp['created_at']}"),
        f"trust mode:  {data['trust']} ({data['trust_note']})",
        "verified:    "
        + (
            "never (run `grace verify`)"
            if data["last_verification"] is None
            else _verification_line(data["last_verification"])
        ),
    ]
    gov = data["governance"]
    policies = (
        f"{gov['policies']} active (set {gov['policy_fingerprint']})"
        if gov["policies"]
        else "NONE LOADED: every risky action is refused"
    )
    lines += [
        f"health mode: {gov['mode']}",
        f"policies:    {policies}",
        f"approvals:   {gov['pending_approvals']} pending",
    ]
    if gov["policy_error"]:
        lines.append(f"policy error: {gov['policy_error']}")
    lines += health_lines(data["health"])
    return data, "\n".join(lines), 0


# ---------------------------------------------------------------- keys


def _key_json(info: KeyInfo) -> dict[str, Any]:
    return {
        "keyid": info.keyid,
        "name": info.name,
        "status": info.status(),
        "public_key": base64.b64encode(info.public_key).decode("ascii"),
        "added_at": info.added_at,
        "retired_at": info.retired_at,
        "revoked_at": info.revoked_at,
        "revocation_reason": info.revocation_reason,
    }


def _key_line(info: KeyInfo) -> str:
    line = f"{info.keyid}  {info.status():8}  added at record {info.added_at}"
    if info.retired_at is not None:
        line += f", retired at {info.retired_at}"
    if info.revoked_at is not None:
        line += f", revoked at {info.revoked_at} ({info.revocation_reason})"
    return line


@click.group()
def keys() -> None:
    """Show, rotate and revoke the ledger's signing keys."""


@keys.command("show")
@grace_command
def keys_show() -> Result:
    """List every key the ledger has used, with its validity."""
    with _open() as ws:
        infos = ws.ledger.list_keys()
    return [_key_json(k) for k in infos], "\n".join(_key_line(k) for k in infos), 0


@keys.command("rotate")
@grace_command
def keys_rotate() -> Result:
    """Make a new signing key; the old key signs the rotation record, then retires.

    Records signed before the rotation keep verifying.
    """
    with _open() as ws:
        info = ws.ledger.rotate_key()
    return _key_json(info), f"rotated: new signing key {info.keyid}", 0


@keys.command("revoke")
@click.argument("keyid")
@click.option("--reason", default="revoked by operator", show_default=True)
@grace_command
def keys_revoke(keyid: str, reason: str) -> Result:
    """Revoke KEYID (8+ leading hex digits): records it signs after this point fail verification.

    Revoking the active key rotates to a new key first.
    """
    with _open() as ws:
        revoked, rotated = ws.ledger.revoke_key(keyid, reason=reason)
    data = {"revoked": _key_json(revoked), "rotated_to": rotated and _key_json(rotated)}
    text = f"revoked {revoked.keyid} at record {revoked.revoked_at}"
    if rotated:
        text += f"\nit was the active key: now signing with {rotated.keyid}"
    return data, text, 0


# ---------------------------------------------------------------- attest


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--predicate-type",
    default=ATTESTATION,
    show_default=True,
    help="URN (or https URI) naming what the statement says about the files.",
)
@click.option("--predicate", "predicate_json", help="A JSON object recorded as the predicate.")
@grace_command
def attest(paths: tuple[Path, ...], predicate_type: str, predicate_json: str | None) -> Result:
    """Record the SHA-256 of each file in PATHS as one signed ledger record."""
    predicate: dict[str, Any] = {}
    if predicate_json is not None:
        try:
            parsed = loads_strict(predicate_json)
        except InputError as exc:
            raise InputError(f"--predicate: {exc.message}") from None
        if not isinstance(parsed, dict):
            raise InputError("--predicate must be a JSON object")
        predicate = parsed
    with _open(create=True) as ws:
        entry = ws.attest(list(paths), predicate_type=predicate_type, predicate=predicate)
        _, statement = entry.decode()
    data = {
        "index": entry.index,
        "leaf_hash": entry.leaf_hash.hex(),
        "predicate_type": statement.predicate_type,
        "subjects": [{"name": s.name, "sha256": s.sha256} for s in statement.subjects],
    }
    text = f"recorded as entry {entry.index} (leaf {entry.leaf_hash.hex()[:16]})\n" + "\n".join(
        f"  {s.sha256}  {s.name}" for s in statement.subjects
    )
    return data, text, 0


# ---------------------------------------------------------------- ledger


@click.group()
def ledger() -> None:
    """Read the ledger: tail, show, proofs, checkpoints and export."""


@ledger.command("tail")
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(0, 10_000))
@grace_command
def ledger_tail(count: int) -> Result:
    """Show the last N records."""
    with _open() as ws:
        entries = [e.describe() for e in ws.ledger.tail(count)]
    text = "\n".join(
        f"{e['index']:>8}  {e['recorded_at']}  {e['predicate_type']}  "
        + ", ".join(s["name"] for s in e["subjects"])
        for e in entries
    )
    return entries, text, 0


@ledger.command("verifications")
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(1, 10_000))
@grace_command
def ledger_verifications(count: int) -> Result:
    """Show the last N full verifications: when, outcome, size, by whom and through what.

    `grace verify`, the server's verify endpoints and the JupyterLab panel add
    to this history; dashboards and kernels only read it.
    """
    with _open() as ws:
        runs = [r.to_json() for r in ws.verifications.recent(count)]
    if not runs:
        return runs, "no verification yet (run `grace verify`)", 0
    return runs, "\n".join(_verification_line(r) for r in runs), 0


def _verification_line(run: dict[str, Any]) -> str:
    line = (
        f"{utc_time(run['at'])}  {'OK' if run['ok'] else 'FAILED'}  {run['size']} records  "
        f"{run['seconds']:.2f} s  by {run['by']} via {run['via']}"
    )
    return line if run["ok"] else f"{line}\n    {run['problem']}"


@ledger.command("show")
@click.argument("index", type=click.IntRange(0))
@grace_command
def ledger_show(index: int) -> Result:
    """Show record INDEX: its statement, signer and exact envelope."""
    with _open() as ws:
        data = ws.ledger.entry(index).describe(full=True)
    text = json.dumps({k: v for k, v in data.items() if k != "envelope"}, indent=2)
    return data, text, 0


def _signed_checkpoint(ws: Workspace, size: int) -> Checkpoint | None:
    """The stored checkpoint at ``size``, only if its signature verifies under a ledger key."""
    checkpoint = ws.ledger.signed_checkpoint(size)
    if checkpoint is None:
        return None
    keys = [PublicKey(k.public_key) for k in ws.ledger.list_keys()]
    return checkpoint if any(checkpoint.signed_by(k) for k in keys) else None


@ledger.command("proof")
@click.argument("index", type=click.IntRange(0))
@click.option(
    "--size",
    type=click.IntRange(1),
    help="Tree size to prove against (default: the latest checkpoint covering INDEX).",
)
@grace_command
def ledger_proof(index: int, size: int | None) -> Result:
    """Print the RFC 9162 inclusion proof of record INDEX, and verify it."""
    with _open() as ws:
        if size is None:
            latest = ws.ledger.latest_checkpoint()
            size = latest.size if latest and latest.size > index else ws.ledger.size
        proof: InclusionProof = ws.ledger.inclusion_proof(index, size)
        checkpoint = _signed_checkpoint(ws, size)
    verify_inclusion(proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.proof, proof.root)
    signed = checkpoint is not None and checkpoint.root == proof.root
    data = {**proof.to_json(), "verified": True, "root_signed_by_checkpoint": signed}
    text = (
        f"record {index} is in the tree of size {proof.tree_size}\n"
        f"root  {proof.root.hex()}"
        + (" (signed checkpoint)" if signed else " (no signed checkpoint at this size)")
        + "\n"
        + "\n".join(f"  {i}: {p.hex()}" for i, p in enumerate(proof.proof))
        + "\nproof verified"
    )
    return data, text, 0


@ledger.command("consistency")
@click.argument("old_size", type=click.IntRange(1))
@click.option("--size", "new_size", type=click.IntRange(1), help="Newer size (default: now).")
@grace_command
def ledger_consistency(old_size: int, new_size: int | None) -> Result:
    """Print the RFC 9162 consistency proof from OLD_SIZE to a newer size, and verify it."""
    with _open() as ws:
        new = ws.ledger.size if new_size is None else new_size
        proof = ws.ledger.consistency_proof(old_size, new)
        old_root, new_root = ws.ledger.root(old_size), ws.ledger.root(new)
    verify_consistency(old_size, new, old_root, new_root, proof)
    data = {
        "old_size": old_size,
        "new_size": new,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [p.hex() for p in proof],
        "verified": True,
    }
    text = f"tree {new} extends tree {old_size}: {len(proof)} hashes, proof verified"
    return data, text, 0


@ledger.command("checkpoint")
@grace_command
def ledger_checkpoint() -> Result:
    """Sign a checkpoint covering every record now (or show the one that already does)."""
    with _open() as ws:
        checkpoint = ws.ledger.checkpoint()
    if checkpoint is None:
        raise InputError("the ledger is empty")
    data = {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "note": checkpoint.to_text(),
    }
    return data, checkpoint.to_text().rstrip("\n"), 0


@ledger.command("export")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write."
)
@grace_command
def ledger_export(out: Path) -> Result:
    """Write a self-contained bundle (entries.jsonl, checkpoint, keys.json) to --out."""
    with _open() as ws:
        summary = export_bundle(ws.ledger, out)
    text = (
        f"exported {summary.size} records to {summary.directory}\n"
        f"root {summary.root.hex()}\nverify with: grace verify --bundle {summary.directory}"
    )
    return summary.to_json(), text, 0


# ---------------------------------------------------------------- verify


@click.command()
@click.option(
    "--bundle", type=click.Path(path_type=Path), help="Verify an exported bundle directory."
)
@click.option(
    "--witness",
    type=click.Path(path_type=Path),
    help="With --bundle: a file remembering the newest checkpoint seen (detects rollbacks).",
)
@click.option(
    "--trusted-key",
    "trusted",
    multiple=True,
    help="With --bundle: key id(s) the log must be founded by (repeatable).",
)
@click.option(
    "--notebook",
    type=click.Path(path_type=Path),
    help="Check each code cell of this notebook against the signed cell records.",
)
@grace_command
def verify(
    bundle: Path | None, witness: Path | None, trusted: tuple[str, ...], notebook: Path | None
) -> Result:
    """Verify every signature, key, hash link, the Merkle root and the checkpoints.

    Without --bundle, verifies this workspace's ledger.  With --notebook, also
    checks that each code cell's code and outputs match a signed record (per
    cell: verified / code changed / outputs changed / not recorded).  Exit 0
    only when everything verifies.
    """
    if bundle is None and (witness or trusted):
        raise InputError("--witness and --trusted-key go with --bundle")
    if notebook is not None:
        return _verify_notebook(notebook, bundle, list(trusted) or None)
    if bundle is not None:
        total = _count_lines(bundle / "entries.jsonl")
        with _progress("verifying", total) as progress:
            report = verify_bundle(
                bundle,
                witness=FileWitness(witness) if witness else None,
                trusted_keyids=list(trusted) or None,
                progress=progress,
            )
    else:
        with _open() as ws, _progress("verifying", ws.ledger.size) as progress:
            report = ws.verify(progress=progress, via="cli")
    return report.to_json(), _report_text(report), 0 if report.ok else 1


def _verify_notebook(notebook: Path, bundle: Path | None, trusted: list[str] | None) -> Result:
    from grace_kernel.runs import verify_notebook

    if bundle is not None:
        total = _count_lines(bundle / "entries.jsonl")
        with _progress("verifying", total) as progress:
            report = verify_notebook(
                notebook, bundle=bundle, trusted_keyids=trusted, progress=progress
            )
    else:
        with _open() as ws, _progress("verifying", ws.ledger.size) as progress:
            report = verify_notebook(notebook, workspace=ws, progress=progress, via="cli")
    return report.to_json(), report.text(), 0 if report.ok else 1


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 0  # verify_bundle reports the missing file properly


def _report_text(report: VerifyReport) -> str:
    if report.ok:
        root = report.root.hex() if report.root else "-"
        text = (
            f"OK: {report.size} records verified\n"
            f"origin {report.origin}\nroot   {root}\n"
            f"{report.checkpoints_checked} checkpoint(s) checked; "
            f"signed checkpoints cover {report.covered} of {report.size} records"
        )
        if report.covered < report.size:
            text += " (the rest are signed individually; the next checkpoint will cover them)"
        return text
    where = "" if report.first_bad_index is None else f" (first bad index {report.first_bad_index})"
    return f"FAILED{where}: {report.problem}"
