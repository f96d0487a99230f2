"""Governance decision throughput, in one run:

    python bench/governance.py [--decisions N] [--json]

- raw ``cedarpy.is_authorized`` on the same requests (the anchor: Cedar itself);
- bare decisions through ``PolicyEngine.decide`` (context building, Cedar, the
  three-outcome reading, obligations);
- governed decisions through ``Governance.govern``: the same plus one signed
  ledger record per decision (sync=normal, one commit per decision).

Targets (issue 3): >= 5,000 bare decisions/s and >= 2,000 governed+signed/s.
The request mix covers every action kind and all three outcomes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cedarpy

from grace_kernel import Settings, Workspace
from grace_kernel.governance import (
    RESOURCE_TYPES,
    Action,
    ActionKind,
    Findings,
    Principal,
    Severity,
    command_facts,
    host_facts,
    package_facts,
    path_facts,
    trust_facts,
)


def request_mix(root: Path) -> list[Action]:
    alice = Principal.user("alice")
    kernel = Principal.kernel("k1", on_behalf_of="alice")
    high = Findings(1, Severity.HIGH, frozenset({"GRC-PY-001"}))
    return [
        Action(kind=ActionKind.CELL_EXECUTE, principal=kernel, resource="cell-1"),
        Action(kind=ActionKind.CELL_EXECUTE, principal=kernel, resource="cell-2", findings=high),
        Action(
            kind=ActionKind.FILE_WRITE,
            principal=kernel,
            resource="out/table.csv",
            facts=path_facts("out/table.csv", workspace=root),
        ),
        Action(
            kind=ActionKind.FILE_WRITE,
            principal=kernel,
            resource="../etc/passwd",
            facts=path_facts("../etc/passwd", workspace=root),
        ),
        Action(
            kind=ActionKind.SHELL_RUN,
            principal=alice,
            resource="git status",
            facts=command_facts("git status"),
        ),
        Action(
            kind=ActionKind.NET_CONNECT,
            principal=kernel,
            resource="127.0.0.1",
            facts=host_facts("127.0.0.1"),
        ),
        Action(
            kind=ActionKind.PACKAGE_INSTALL,
            principal=alice,
            resource="numpy==2.3.0",
            facts=package_facts("numpy==2.3.0"),
        ),
        Action(
            kind=ActionKind.KNOWLEDGE_INGEST,
            principal=alice,
            resource="doc-1",
            facts=trust_facts(0.9),
        ),
        Action(kind=ActionKind.SECRET_READ, principal=kernel, resource="api-token"),
        Action(kind=ActionKind.MODEL_TRAIN, principal=alice, resource="model-1"),
    ]


def rate(count: int, seconds: float) -> float:
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.decisions

    with tempfile.TemporaryDirectory(prefix="grace-bench-") as tmp:
        root = Path(tmp)
        with Workspace.open(Settings(home=root / ".grace")) as ws:
            governance = ws.governance
            engine = governance.engine
            actions = request_mix(root)
            active = engine.active
            assert active is not None
            # The same request form the engine sends (entities as JSON objects).
            requests = [
                {
                    "principal": {"type": a.principal.type.value, "id": a.principal.id},
                    "action": {"type": "Action", "id": a.kind.value},
                    "resource": {"type": RESOURCE_TYPES[a.kind], "id": a.resource},
                    "context": engine.context(a, mode="normal", approved=False),
                }
                for a in actions
            ]

            start = time.perf_counter()
            for i in range(n):
                cedarpy.is_authorized(requests[i % len(requests)], active.cedar, [])
            raw = rate(n, time.perf_counter() - start)

            start = time.perf_counter()
            for i in range(n):
                engine.decide(actions[i % len(actions)])
            bare = rate(n, time.perf_counter() - start)

            # governed: no approval-requiring actions here, or each would open a request
            plain = [a for a in actions if engine.decide(a).effect.value != "require_approval"]
            governed_n = max(1, n // 2)
            start = time.perf_counter()
            for i in range(governed_n):
                governance.govern(plain[i % len(plain)])
            governed = rate(governed_n, time.perf_counter() - start)

    results = {
        "policies": len(active.policies),
        "raw_cedar_per_s": round(raw),
        "bare_decisions_per_s": round(bare),
        "bare_vs_raw_cedar": round(bare / raw, 3),
        "governed_signed_per_s": round(governed),
        "targets": {"bare_decisions_per_s": 5000, "governed_signed_per_s": 2000},
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"Governance benchmark: {results['policies']} seeded policies, {n} decisions\n")
    print(f"{'measure':<46}{'per second':>12}{'target':>10}")
    print(f"{'raw cedarpy.is_authorized (anchor)':<46}{results['raw_cedar_per_s']:>12,}{'':>10}")
    print(
        f"{'PolicyEngine.decide (bare)':<46}{results['bare_decisions_per_s']:>12,}"
        f"{'>= 5,000':>10}   ({results['bare_vs_raw_cedar']:.2f} of raw Cedar)"
    )
    print(
        f"{'Governance.govern (+ signed ledger record)':<46}"
        f"{results['governed_signed_per_s']:>12,}{'>= 2,000':>10}"
    )


if __name__ == "__main__":
    main()
