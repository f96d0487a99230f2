"""Data shaping: pure functions, checked on small hand-made inputs and on a seeded workspace."""

from __future__ import annotations

import collections
import dataclasses

from grace_widgets import Record, WorkspaceView
from grace_widgets import _shape as shape
from grace_widgets.demo import SeedSummary

from grace_kernel.hunter._alerts import Alert


def _alert(**changes: object) -> Alert:
    base = Alert(
        id="alt-1",
        fingerprint="f1",
        rule_id="GRC-PY-001",
        severity="high",
        source="scan",
        title="t",
        location="demo/etl.py:3",
        evidence="e",
        state="open",
        count=1,
        first_seen=1_000.0,
        last_seen=1_000.0,
        changed_by=None,
        note=None,
        task_owner=None,
        task_state=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_bucket_width_keeps_the_axis_at_most_48_buckets() -> None:
    assert shape.pick_width(0) == 60
    assert shape.pick_width(48 * 60) == 60
    assert shape.pick_width(48 * 60 + 1) == 300
    assert shape.pick_width(3 * 86_400) == 6 * 3600
    assert shape.pick_width(400 * 86_400) / (7 * 86_400) >= 1
    assert 400 * 86_400 / shape.pick_width(400 * 86_400) <= shape.MAX_BUCKETS


def test_bucketing_counts_every_event_once_in_aligned_buckets() -> None:
    events = [(0.0, "a"), (59.0, "a"), (60.0, "b"), (61.0, "a"), (179.0, "c")]
    series = shape.bucket(events, keys=("b", "a"))
    assert series.starts == [0.0, 60.0, 120.0]
    assert list(series.counts) == ["b", "a", "c"]  # listed keys first, then as seen
    assert series.counts == {"b": [0, 1, 0], "a": [2, 1, 0], "c": [0, 0, 1]}
    assert series.total == len(events)


def test_bucketing_reaches_now_so_a_quiet_period_shows_as_empty_buckets() -> None:
    series = shape.bucket([(0.0, "a")], now=200.0)
    assert series.starts == [0.0, 60.0, 120.0, 180.0]
    assert series.counts["a"] == [1, 0, 0, 0]


def test_no_events_make_an_empty_series_with_its_keys() -> None:
    series = shape.bucket([], keys=shape.SEVERITIES)
    assert series.empty
    assert series.starts == []
    assert list(series.counts) == list(shape.SEVERITIES)


def test_an_alert_points_at_its_file_without_cell_and_line() -> None:
    assert shape.alert_file(_alert(location="demo/etl.py:12")) == "demo/etl.py"
    assert shape.alert_file(_alert(location="demo/report.ipynb cell 2:1")) == "demo/report.ipynb"
    assert shape.alert_file(_alert(location="C:/odd name.py")) == "C:/odd name.py"


def test_top_files_rank_by_count_then_severity_and_skip_governance_alerts() -> None:
    alerts = [
        _alert(id="1", location="a.py:1", severity="low", rule_id="R1"),
        _alert(id="2", location="a.py:2", severity="medium", rule_id="R2"),
        _alert(id="3", location="b.py:1", severity="critical", rule_id="R3"),
        _alert(id="4", location="c.py:9", severity="high", rule_id="R4"),
        _alert(id="5", location="shell.run curl", source="governance", rule_id="shell-approval"),
    ]
    rows = shape.top_files(alerts)
    assert [r["file"] for r in rows] == ["a.py", "b.py", "c.py"]
    assert rows[0] == {"file": "a.py", "alerts": 2, "worst": "medium", "rules": ["R1", "R2"]}


def test_decisions_denials_and_growth_come_from_the_records() -> None:
    records = [
        Record(0, "key-add", 10.0, {}, ("k",)),
        Record(1, "governance-decision", 20.0, {"effect": "allow", "policy_ids": ["p1"]}, ()),
        Record(2, "governance-decision", 30.0, {"effect": "deny", "policy_ids": ["f1"]}, ()),
        Record(3, "governance-decision", 40.0, {"effect": "deny", "policy_ids": []}, ()),
        Record(4, "governance-decision", 50.0, {"effect": "deny", "policy_ids": ["f1"]}, ()),
    ]
    series = shape.decisions_over_time(records)
    assert {k: sum(v) for k, v in series.counts.items()} == {
        "allow": 1,
        "require_approval": 0,
        "deny": 3,
    }
    assert shape.denials_by_policy(records) == [("f1", 2), ("no-policy", 1)]
    assert shape.ledger_growth(records) == [(10.0, 1), (20.0, 2), (30.0, 3), (40.0, 4), (50.0, 5)]


def test_a_run_is_checked_against_the_cell_records_it_links() -> None:
    records = [
        Record(0, "cell-execution", 1.0, {}, ()),
        Record(1, "governance-decision", 1.0, {"effect": "allow"}, ()),
        Record(
            2,
            "notebook-run",
            2.0,
            {
                "run_id": "r1",
                "input": {"path": "a.ipynb", "sha256": "ab" * 32},
                "output": {"content_sha256": "cd" * 32},
                "cell_records": [0, 1],  # 1 is not a cell record
                "status": "ok",
                "principal": "runner:r1",
            },
            (),
        ),
    ]
    (row,) = shape.recent_runs(records)
    assert (row.run_id, row.notebook, row.cells, row.cells_found) == ("r1", "a.ipynb", 2, 1)


def test_shaping_the_seeded_workspace_matches_its_stores(seeded: SeedSummary) -> None:
    view = WorkspaceView.at(seeded.home)
    alerts = view.alerts()
    assert len(alerts) == seeded.alerts
    by_rule = dict(shape.alerts_by_rule(alerts, limit=100))
    assert by_rule == dict(collections.Counter(a.rule_id for a in alerts))
    assert set(seeded.alert_rules) <= set(by_rule)
    assert shape.alerts_over_time(alerts).total == len(alerts)

    records = view.records()
    assert len(records) == seeded.records
    effects = collections.Counter(
        r.predicate["effect"] for r in records if r.kind == "governance-decision"
    )
    # The seeded governed actions, plus the run's cell.execute decisions (all allowed).
    assert effects["deny"] == seeded.decisions["deny"]
    assert effects["require_approval"] == seeded.decisions["require_approval"]
    assert effects["allow"] > seeded.decisions["allow"]
    denied = dict(shape.denials_by_policy(records))
    assert sum(denied.values()) == seeded.decisions["deny"]
    assert "files-write-outside-deny" in denied

    (run,) = shape.recent_runs(records)
    assert run.status == seeded.run_status == "ok"
    assert run.cells == run.cells_found > 0

    times = shape.recovery_times(view.incidents())
    assert [i for i, _ in times] == list(seeded.incidents)
    assert all(0 <= seconds < 60 for _, seconds in times)
