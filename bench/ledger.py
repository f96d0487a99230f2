"""Ledger throughput against the raw Ed25519 ceiling of the same machine, in one run.

    python bench/ledger.py [--records N] [--proofs N] [--million] [--json]

Prints, side by side:
- raw Ed25519 sign/s and verify/s over a typical record's PAE bytes (the ceiling);
- appends/s through ``Ledger.append`` (one commit per record, sync=normal, the
  default durability: acknowledged = survives the process being killed), and
  with ``Ledger.batch`` of 100 records per commit, and with sync=full;
- full verification records/s (``Workspace.verify``: every signature, hash link,
  key validity, Merkle root and checkpoint);
- inclusion proofs/s (generated from the SQLite store and verified independently).

Targets (issue 2): appends >= 50 % of the raw signing rate, verification >= 70 %
of the raw verifying rate.  ``--million`` also builds and verifies a
1,000,000-record ledger and reports time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grace_kernel import Settings, Workspace
from grace_kernel.ledger import Subject, verify_inclusion

PREDICATE_TYPE = "urn:grace:predicate:bench:v1"
SUBJECT = Subject("results/table.csv", "ab" * 32)


def _predicate(i: int) -> dict[str, object]:
    return {"principal": "user:bench", "cell": i, "status": "ok", "duration_ms": 12}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def best_of(runs: int, func: Callable[[], float]) -> float:
    """The best rate of several runs (the least disturbed by the rest of the machine)."""
    return max(func() for _ in range(runs))


def raw_ceiling(sample: bytes, n: int) -> tuple[float, float]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()

    def sign() -> float:
        start = time.perf_counter()
        for _ in range(n):
            key.sign(sample)
        return rate(n, time.perf_counter() - start)

    signature = key.sign(sample)

    def verify() -> float:
        start = time.perf_counter()
        for _ in range(n):
            public.verify(signature, sample)
        return rate(n, time.perf_counter() - start)

    return best_of(3, sign), best_of(3, verify)


def appends(home: Path, n: int, *, sync: str = "normal", batch: int = 1) -> float:
    settings = Settings(home=home, sync=sync)  # type: ignore[arg-type]  # "normal" | "full"
    with Workspace.open(settings) as ws:
        ledger = ws.ledger
        start = time.perf_counter()
        if batch == 1:
            for i in range(n):
                ledger.append(
                    subjects=[SUBJECT], predicate_type=PREDICATE_TYPE, predicate=_predicate(i)
                )
        else:
            for first in range(0, n, batch):
                with ledger.batch() as group:
                    for i in range(first, min(n, first + batch)):
                        group.append(
                            subjects=[SUBJECT],
                            predicate_type=PREDICATE_TYPE,
                            predicate=_predicate(i),
                        )
        return rate(n, time.perf_counter() - start)


def full_verify(home: Path) -> tuple[float, int]:
    with Workspace.open(Settings(home=home), create=False) as ws:
        start = time.perf_counter()
        report = ws.verify()
        elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"benchmark ledger failed verification: {report.problem}")
    return rate(report.size, elapsed), report.size


def proofs(home: Path, n: int) -> float:
    with Workspace.open(Settings(home=home), create=False) as ws:
        size = ws.ledger.size
        rng = random.Random(7)
        start = time.perf_counter()
        for _ in range(n):
            proof = ws.ledger.inclusion_proof(rng.randrange(size), size)
            verify_inclusion(proof.leaf_hash, proof.leaf_index, size, proof.proof, proof.root)
        return rate(n, time.perf_counter() - start)


def sample_pae(home: Path) -> bytes:
    with Workspace.open(Settings(home=home), create=False) as ws:
        envelope, _ = ws.ledger.entry(ws.ledger.size - 1).decode()
        return envelope.signed_bytes()


def million(root: Path) -> dict[str, float]:
    home = root / "million" / ".grace"
    n = 1_000_000
    start = time.perf_counter()
    build_rate = appends(home, n, batch=1000)
    build = time.perf_counter() - start
    verify_rate, size = full_verify(home)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db_mib = (home / "grace.db").stat().st_size / 2**20
    return {
        "records": size,
        "build_seconds": round(build, 1),
        "build_appends_per_s": round(build_rate),
        "verify_seconds": round(size / verify_rate, 1),
        "verify_records_per_s": round(verify_rate),
        "peak_rss_mib": round(peak_mib),
        "database_mib": round(db_mib),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--proofs", type=int, default=5_000)
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="grace-bench-") as tmp:
        root = Path(tmp)
        n = args.records
        results: dict[str, object] = {}
        append_normal = appends(root / "normal" / ".grace", n)
        sample = sample_pae(root / "normal" / ".grace")
        sign_ceiling, verify_ceiling = raw_ceiling(sample, 20_000)
        append_batch = appends(root / "batch" / ".grace", n, batch=100)
        append_full = appends(root / "full" / ".grace", min(n, 5_000), sync="full")
        verify_runs = [full_verify(root / "normal" / ".grace")[0] for _ in range(3)]
        verify_rate = max(verify_runs)
        proof_rate = proofs(root / "normal" / ".grace", args.proofs)
        results = {
            "records": n,
            "pae_bytes": len(sample),
            "raw_sign_per_s": round(sign_ceiling),
            "raw_verify_per_s": round(verify_ceiling),
            "append_per_s": round(append_normal),
            "append_vs_sign": round(append_normal / sign_ceiling, 3),
            "append_batch100_per_s": round(append_batch),
            "append_batch100_vs_sign": round(append_batch / sign_ceiling, 3),
            "append_sync_full_per_s": round(append_full),
            "verify_per_s": round(verify_rate),
            "verify_per_s_median": round(statistics.median(verify_runs)),
            "verify_vs_raw_verify": round(verify_rate / verify_ceiling, 3),
            "proofs_per_s": round(proof_rate),
        }
        if args.million:
            results["million"] = million(root)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    r = results
    print(f"Ledger benchmark: {n} records, PAE of {r['pae_bytes']} bytes per record\n")
    print(f"{'measure':<44}{'per second':>12}{'vs ceiling':>12}{'target':>9}")
    rows = [
        ("raw Ed25519 sign (ceiling)", r["raw_sign_per_s"], "", ""),
        ("raw Ed25519 verify (ceiling)", r["raw_verify_per_s"], "", ""),
        ("append, 1 commit each (sync=normal)", r["append_per_s"], r["append_vs_sign"], ">= 0.50"),
        (
            "append, 100 per commit (sync=normal)",
            r["append_batch100_per_s"],
            r["append_batch100_vs_sign"],
            "",
        ),
        ("append, 1 commit each (sync=full)", r["append_sync_full_per_s"], "", ""),
        ("full verification (best of 3)", r["verify_per_s"], r["verify_vs_raw_verify"], ">= 0.70"),
        ("inclusion proof, generate + verify", r["proofs_per_s"], "", ""),
    ]
    for name, value, ratio, target in rows:
        ratio_text = f"{ratio:.2f}" if isinstance(ratio, float) else ""
        print(f"{name:<44}{value:>12,}{ratio_text:>12}{target:>9}")
    if "million" in r:
        m = r["million"]
        assert isinstance(m, dict)
        print(
            f"\n1,000,000 records: built in {m['build_seconds']} s "
            f"({m['build_appends_per_s']:,}/s, 1000 per commit), "
            f"verified in {m['verify_seconds']} s "
            f"({m['verify_records_per_s']:,}/s); peak RSS {m['peak_rss_mib']} MiB, "
            f"database {m['database_mib']} MiB"
        )


if __name__ == "__main__":
    main()
