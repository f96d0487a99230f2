"""Start-up cost of a sandboxed ``python -c pass`` at each layer level, in one run:

    python bench/sandbox.py [--runs N] [--python PATH] [--json]

- level 0, the anchor: a bare ``subprocess.run([python, "-c", "pass"])``;
- levels 1..5: the same program through ``grace_kernel.sandbox.run`` with the
  first N layers (process limits, + seccomp, + Landlock, + bubblewrap,
  + cgroups), end to end: private directory, control group, launcher, the
  layers, the program, clean-up.

The levels are measured round-robin (one run of each per round) so drift on
the machine hits them alike; medians and 90th percentiles of ``--runs`` rounds
(at least 20).  Target (issue 7): full layering adds <= 50 ms over bare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from grace_kernel.sandbox import LAYERS, SandboxSpec, probe, run
from grace_kernel.sandbox._langs import language
from grace_kernel.sandbox._probe import level_of


def _default_python() -> str:
    """An interpreter the sandbox user can run at every level (see tests/sandbox/conftest.py)."""
    if os.getuid() == 0 and Path("/usr/bin/python3").exists():
        return "/usr/bin/python3"
    return sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", default=_default_python())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.runs < 20:
        parser.error("--runs must be at least 20")
    report = probe()
    lang = language("python", python=args.python)
    specs = {
        level: SandboxSpec(
            argv=(str(lang.program), "-c", "pass"),
            execute=lang.execute,
            bind=lang.bind,
            level=level,
        )
        for level in range(1, len(LAYERS) + 1)
    }
    times: dict[int, list[float]] = {level: [] for level in range(len(LAYERS) + 1)}
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([args.python, "-c", "pass"], check=True)
        times[0].append((time.perf_counter() - started) * 1000)
        for level, spec in specs.items():
            started = time.perf_counter()
            result = run(spec, report)
            times[level].append((time.perf_counter() - started) * 1000)
            if not result.ok:
                sys.exit(f"level {level} failed: {result.stderr or result.stopped_by}")
    bare = statistics.median(times[0])
    rows: list[dict[str, Any]] = []
    for level, samples in times.items():
        layers = [name for name in LAYERS[:level] if report.active(name)]
        median = statistics.median(samples)
        rows.append(
            {
                "level": level,
                "effective_level": level_of(layers),
                "layers": layers or ["bare subprocess"],
                "median_ms": round(median, 2),
                "p90_ms": round(statistics.quantiles(samples, n=10)[-1], 2),
                "added_ms": round(median - bare, 2),
                "ratio": round(median / bare, 2),
            }
        )
    doc = {"python": args.python, "runs": args.runs, "probe_ms": report.probe_ms, "rows": rows}
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    head = f"sandbox start-up, {args.python} -c pass, median of {args.runs}"
    print(f"{head} (probe {report.probe_ms:.0f} ms)")
    print(f"{'level':>5}  {'median':>8}  {'p90':>8}  {'added':>8}  {'ratio':>6}  layers")
    for row in rows:
        print(
            f"{row['level']:>5}  {row['median_ms']:>6.1f}ms  {row['p90_ms']:>6.1f}ms  "
            f"{row['added_ms']:>+6.1f}ms  {row['ratio']:>5.2f}x  {' + '.join(row['layers'])}"
        )
    full = rows[-1]
    verdict = "met" if full["added_ms"] <= 50 else "MISSED"
    print(f"full layering adds {full['added_ms']:.1f} ms over bare (target <= 50 ms: {verdict})")


if __name__ == "__main__":
    main()
