"""Pure data shaping for the dashboards: no I/O, no widgets, easy to test.

Everything takes what :class:`~grace_widgets.WorkspaceView` returns (records,
alerts, approvals, incidents) and answers plain lists and dicts the plots and
tables draw.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from grace_kernel.governance import ApprovalRequest
from grace_kernel.health import Incident
from grace_widgets._source import Alert, Record

__all__ = [
    "SEVERITIES",
    "RunRow",
    "TimeSeries",
    "alert_file",
    "alerts_by_rule",
    "alerts_over_time",
    "bucket",
    "count_by",
    "decisions_over_time",
    "denials_by_policy",
    "ledger_growth",
    "pick_width",
    "recent_runs",
    "recovery_times",
    "top_files",
]

SEVERITIES = ("critical", "high", "medium", "low")
EFFECTS = ("allow", "require_approval", "deny")
# Bucket widths a time axis may use: a minute up to a week.
_WIDTHS = (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86_400.0, 7 * 86_400.0)
MAX_BUCKETS = 48


@dataclasses.dataclass(frozen=True)
class TimeSeries:
    """Counts per key in consecutive buckets: ``counts[key][i]`` falls in
    ``[starts[i], starts[i] + width)``."""

    starts: list[float]
    width: float
    counts: dict[str, list[int]]

    @property
    def total(self) -> int:
        return sum(sum(v) for v in self.counts.values())

    @property
    def empty(self) -> bool:
        return self.total == 0


def pick_width(span: float) -> float:
    """The smallest bucket width that draws ``span`` seconds in at most 48 buckets."""
    for width in _WIDTHS:
        if span / width <= MAX_BUCKETS:
            return width
    return _WIDTHS[-1] * math.ceil(span / (_WIDTHS[-1] * MAX_BUCKETS))


def bucket(
    events: Iterable[tuple[float, str]], *, keys: Sequence[str] = (), now: float | None = None
) -> TimeSeries:
    """Count ``(time, key)`` events per time bucket and key.

    The axis runs from the first event to ``now`` (or the last event); bucket
    starts are aligned to multiples of the width.  ``keys`` fixes the order
    (and presence) of the series; keys not listed are appended as seen.
    """
    items = sorted(events)
    if not items:
        return TimeSeries([], 60.0, {k: [] for k in keys})
    first = items[0][0]
    last = max(items[-1][0], now if now is not None else items[-1][0])
    width = pick_width(last - first)
    origin = math.floor(first / width) * width
    n = int((last - origin) // width) + 1
    order = list(keys) + sorted({k for _, k in items} - set(keys))
    counts = {k: [0] * n for k in order}
    for at, key in items:
        counts[key][min(int((at - origin) // width), n - 1)] += 1
    return TimeSeries([origin + i * width for i in range(n)], width, counts)


def count_by(values: Iterable[str], *, limit: int | None = None) -> list[tuple[str, int]]:
    """``[(value, count)]``, most frequent first (ties by value)."""
    ranked = sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked if limit is None else ranked[:limit]


# ---------------------------------------------------------------------- security


def alerts_over_time(alerts: Sequence[Alert], *, now: float | None = None) -> TimeSeries:
    """New alerts per time bucket (by first sighting), one series per severity."""
    return bucket(((a.first_seen, a.severity) for a in alerts), keys=SEVERITIES, now=now)


def alerts_by_rule(alerts: Sequence[Alert], *, limit: int = 12) -> list[tuple[str, int]]:
    """Alerts per rule id (comma-joined policy ids for governance alerts stay one key)."""
    return count_by((a.rule_id for a in alerts), limit=limit)


def alert_file(alert: Alert) -> str:
    """The file an alert points at: its location without ``cell N`` and ``:line``."""
    location = alert.location
    head, sep, tail = location.rpartition(":")
    if sep and tail.isdigit():
        location = head
    return location.split(" cell ", 1)[0] or "<input>"


def top_files(alerts: Sequence[Alert], *, limit: int = 10) -> list[dict[str, Any]]:
    """Files with the most alerts: count, worst severity, and the rules seen there."""
    by_file: dict[str, list[Alert]] = {}
    for alert in alerts:
        if alert.source == "governance":
            continue  # a governance alert's location is an action's resource, not a file
        by_file.setdefault(alert_file(alert), []).append(alert)
    rows: list[dict[str, Any]] = []
    for path, found in by_file.items():
        worst = min(
            (SEVERITIES.index(a.severity) for a in found if a.severity in SEVERITIES),
            default=len(SEVERITIES),
        )
        rows.append(
            {
                "file": path,
                "alerts": len(found),
                "worst": SEVERITIES[worst] if worst < len(SEVERITIES) else "-",
                "rules": sorted({a.rule_id for a in found}),
            }
        )
    rows.sort(
        key=lambda r: (
            -r["alerts"],
            SEVERITIES.index(r["worst"]) if r["worst"] in SEVERITIES else 9,
            r["file"],
        )
    )
    return rows[:limit]


# ---------------------------------------------------------------------- governance


def decisions_over_time(records: Sequence[Record], *, now: float | None = None) -> TimeSeries:
    """Governance decisions per time bucket, one series per effect."""
    return bucket(
        (
            (r.recorded_at, str(r.predicate.get("effect", "?")))
            for r in records
            if r.kind == "governance-decision"
        ),
        keys=EFFECTS,
        now=now,
    )


def denials_by_policy(records: Sequence[Record]) -> list[tuple[str, int]]:
    """Denied decisions per deciding policy id (``no-policy`` when none matched)."""
    ids: list[str] = []
    for record in records:
        if record.kind == "governance-decision" and record.predicate.get("effect") == "deny":
            ids.extend(record.predicate.get("policy_ids") or ["no-policy"])
    return count_by(ids)


def pending_approvals(approvals: Sequence[ApprovalRequest], *, now: float) -> list[ApprovalRequest]:
    """Still-pending requests that have not expired, oldest first."""
    return [a for a in approvals if a.state == "pending" and a.expires_at > now]


# ---------------------------------------------------------------------- verification


def ledger_growth(records: Sequence[Record]) -> list[tuple[float, int]]:
    """``(time, size)`` after each record: the ledger's size over time."""
    return [(r.recorded_at, r.index + 1) for r in records if r.error is None]


@dataclasses.dataclass(frozen=True)
class RunRow:
    """A notebook run and the provenance its record links."""

    index: int
    run_id: str
    notebook: str
    status: str
    recorded_at: float
    cells: int
    cells_found: int  # how many of its linked cell records are cell-execution records
    input_sha256: str
    output_sha256: str
    principal: str


def recent_runs(records: Sequence[Record], *, limit: int = 10) -> list[RunRow]:
    """The newest ``notebook-run`` records, each checked against the cell records it links."""
    cell_indices = {r.index for r in records if r.kind == "cell-execution"}
    rows = []
    for record in reversed(records):
        if record.kind != "notebook-run":
            continue
        p = record.predicate
        linked = [int(i) for i in p.get("cell_records") or []]
        rows.append(
            RunRow(
                index=record.index,
                run_id=str(p.get("run_id", "")),
                notebook=str((p.get("input") or {}).get("path", "")),
                status=str(p.get("status", "")),
                recorded_at=record.recorded_at,
                cells=len(linked),
                cells_found=sum(1 for i in linked if i in cell_indices),
                input_sha256=str((p.get("input") or {}).get("sha256", "")),
                output_sha256=str((p.get("output") or {}).get("content_sha256", "")),
                principal=str(p.get("principal", "")),
            )
        )
        if len(rows) == limit:
            break
    return rows


# ---------------------------------------------------------------------- health


def recovery_times(incidents: Sequence[Incident]) -> list[tuple[str, float]]:
    """``(incident id, seconds from detection to healing)`` for healed incidents, oldest first."""
    healed = [i for i in incidents if i.healed_at is not None]
    healed.sort(key=lambda i: i.detected_at)
    return [(i.id, float(i.healed_at) - i.detected_at) for i in healed if i.healed_at is not None]
