"""The widgets on real workspaces: what they draw, refreshing in place, empty states."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import ipywidgets as widgets
import pytest
from grace_widgets import Dashboard, RefreshBar, WorkspaceView
from grace_widgets import panels as p
from grace_widgets.demo import SeedSummary

from grace_kernel.governance import Action, ActionKind, PolicyDenied, Principal, path_facts
from grace_kernel.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n"


def _deny_a_write(ws: Workspace, target: str) -> None:
    action = Action(
        kind=ActionKind.FILE_WRITE,
        principal=Principal.user("carol"),
        resource=target,
        facts=path_facts(target, workspace=ws.root),
    )
    with pytest.raises(PolicyDenied), ws.governance.governed(action):
        pass


def _ledger_digest(home: Path) -> str:
    digest = hashlib.sha256()
    for name in ("grace.db", "grace.db-wal"):
        path = home / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_security_widgets_draw_the_seeded_alerts(seeded: SeedSummary) -> None:
    view = WorkspaceView.at(seeded.home)
    timeline, by_rule = p.AlertTimeline(view), p.AlertsByRule(view)
    files, table = p.TopFiles(view), p.AlertTable(view, state="open")

    assert timeline.png.startswith(PNG)
    assert by_rule.png.startswith(PNG)
    assert timeline.data.total == seeded.alerts
    assert {rule for rule, _ in by_rule.data} >= set(seeded.alert_rules[:5])
    assert files.data[0]["file"].startswith("demo/")
    open_alerts = view.alerts(state="open")
    assert [a.id for a in table.data] == [a.id for a in open_alerts][: table.limit]
    for rule in {a.rule_id for a in table.data}:
        assert rule in table.body.value
    assert "grace alerts ack" in table.body.value  # says how to act, on the trusted side


def test_governance_widgets_show_decisions_pending_and_decided_requests(
    seeded: SeedSummary,
) -> None:
    view = WorkspaceView.at(seeded.home)
    timeline, denials = p.DecisionTimeline(view), p.DenialsByPolicy(view)
    pending, history = p.PendingApprovals(view), p.ApprovalHistory(view)

    drawn = {k: sum(v) for k, v in timeline.data.counts.items()}
    assert drawn["deny"] == seeded.decisions["deny"]
    assert drawn["require_approval"] == seeded.decisions["require_approval"]
    assert drawn["allow"] > seeded.decisions["allow"]  # and the run's cells
    assert sum(n for _, n in denials.data) == seeded.decisions["deny"]
    assert {a.id for a in pending.data} == set(seeded.pending_approvals)
    for approval_id in seeded.pending_approvals:
        assert approval_id in pending.body.value
    states = {a.id: a.state for a in history.data}
    assert set(seeded.decided_approvals) <= set(states)
    assert sorted(states[i] for i in seeded.decided_approvals) == ["denied", "used"]


def test_verification_widgets_verify_and_trace_the_run(seeded: SeedSummary) -> None:
    view = WorkspaceView.at(seeded.home)
    growth, checkpoints = p.LedgerGrowth(view), p.Checkpoints(view)
    verification, runs = p.Verification(view), p.RecentRuns(view)

    assert growth.data[-1][1] == seeded.records
    assert len(checkpoints.data) == seeded.checkpoints
    assert checkpoints.data[0].size == max(c.size for c in checkpoints.data)
    (latest,) = verification.data
    assert latest.ok
    assert latest.size == seeded.records
    assert "verified" in verification.output.value
    (run,) = runs.data
    assert run.status == "ok"
    assert run.cells_found == run.cells


def test_health_widgets_show_components_and_the_healed_incident(seeded: SeedSummary) -> None:
    view = WorkspaceView.at(seeded.home)
    components, incidents, recovery = p.Components(view), p.Incidents(view), p.RecoveryTimes(view)

    health = {c["name"]: c["health"] for c in components.data["components"]}
    assert health == {"store": "ok", "policy": "ok", "scanner": "ok"}
    assert components.data["mode"] == "normal"  # the seeded incident was healed
    (incident,) = incidents.data
    assert incident.id in seeded.incidents
    assert incident.root == "hold-checker"
    assert not incident.open
    assert any(a["action"] == "restart" for a in incident.actions)
    assert [i for i, _ in recovery.data] == [incident.id]
    assert recovery.png.startswith(PNG)


def test_a_refresh_redraws_in_place_with_what_was_added(writer: Workspace) -> None:
    view = WorkspaceView.at(writer.settings.home)
    denials, rules, growth = p.DenialsByPolicy(view), p.AlertsByRule(view), p.LedgerGrowth(view)
    image, before = denials.body, dict(denials.data)
    size_before = growth.data[-1][1]

    _deny_a_write(writer, "/etc/another-one.conf")  # a decision, and an alert from it
    for panel in (denials, rules, growth):
        panel.refresh()

    assert denials.body is image  # the same widget, changed in place
    after = dict(denials.data)
    assert after["files-write-outside-deny"] == before["files-write-outside-deny"] + 1
    assert dict(rules.data)["files-write-outside-deny"] >= 1
    assert growth.data[-1][1] > size_before


def test_the_refresh_bar_refreshes_every_panel_from_its_button_and_its_timer(
    writer: Workspace,
) -> None:
    view = WorkspaceView.at(writer.settings.home)
    panels = [p.DecisionTimeline(view), p.PendingApprovals(view)]
    bar = RefreshBar(panels, interval=10)
    assert bar.ticker.interval == 10
    total = panels[0].data.total

    _deny_a_write(writer, "/etc/first.conf")
    bar.button.click()
    assert panels[0].data.total == total + 1
    assert bar.refreshes == 1

    _deny_a_write(writer, "/etc/second.conf")
    # What the browser-side timer sends every `interval` seconds:
    bar.ticker._handle_custom_msg({"type": "tick"}, [])
    assert panels[0].data.total == total + 2
    assert bar.refreshes == 2

    bar.auto.value = 0.0  # "auto: off" pauses the timer in the browser
    assert bar.ticker.interval == 0


def test_an_empty_workspace_shows_empty_states_and_is_not_created(empty_home: Path) -> None:
    view = WorkspaceView.at(empty_home)
    panels = [
        p.AlertTimeline(view),
        p.AlertsByRule(view),
        p.TopFiles(view),
        p.AlertTable(view),
        p.DecisionTimeline(view),
        p.DenialsByPolicy(view),
        p.PendingApprovals(view),
        p.ApprovalHistory(view),
        p.LedgerGrowth(view),
        p.Checkpoints(view),
        p.RecentRuns(view),
        p.Incidents(view),
        p.RecoveryTimes(view),
    ]
    for panel in panels:
        assert panel.body.layout.display == "none", panel.title
        assert panel.empty in panel.message.value
    components = p.Components(view)
    store = next(c for c in components.data["components"] if c["name"] == "store")
    assert store["health"] == "failed"
    assert "no database" in store["detail"]
    Dashboard("Everything", [panels], view=view).refresh()
    assert not empty_home.exists()
    assert not empty_home.parent.exists()


def test_a_workspace_without_alerts_or_approvals_yet_is_empty_not_broken(
    tmp_path: Path,
) -> None:
    from grace_kernel.config import Settings

    home = tmp_path / ".grace"
    Workspace.open(Settings(home=home)).close()  # `grace init`: a ledger, nothing else yet
    view = WorkspaceView.at(home)
    for panel in (p.AlertTable(view), p.PendingApprovals(view), p.Incidents(view)):
        assert "Cannot read" not in panel.message.value
        assert panel.empty in panel.message.value
    assert p.LedgerGrowth(view).data == [(view.records()[0].recorded_at, 1)]


def test_the_dashboards_never_write_to_the_workspace(seeded: SeedSummary) -> None:
    before = _ledger_digest(seeded.home)
    view = WorkspaceView.at(seeded.home)
    board = Dashboard(
        "All",
        [
            [p.AlertTimeline(view), p.AlertTable(view), p.PendingApprovals(view)],
            [p.Verification(view), p.Components(view), p.Incidents(view)],
        ],
        view=view,
    )
    board.refresh()
    assert isinstance(board, widgets.VBox)
    assert _ledger_digest(seeded.home) == before


def test_the_verification_panel_shows_the_workspace_history_beside_its_own(
    writer: Workspace,
) -> None:
    view = WorkspaceView.at(writer.settings.home)
    verification = p.Verification(view)
    (own,) = verification.data
    assert own.via == "dashboard"
    writer.verify(by="user:vera", via="cli")  # the trusted side verifies too
    verification.verify_now()
    assert [v.via for v in verification.data] == ["dashboard", "cli", "dashboard"]
    assert "user:vera via cli" in verification.output.value
    assert verification.output.value.count("this page") == 2


def test_a_tampered_record_is_shown_as_a_failed_verification(writer: Workspace) -> None:
    view = WorkspaceView.at(writer.settings.home)
    verification = p.Verification(view)
    assert verification.data[0].ok
    size = writer.ledger.size
    conn = sqlite3.connect(writer.settings.db_path)
    try:
        row = conn.execute(
            "SELECT envelope FROM ledger_entries WHERE idx = ?", (size - 2,)
        ).fetchone()
        forged = bytes(row[0]).replace(b'"payload":"', b'"payload":"A', 1)
        conn.execute("UPDATE ledger_entries SET envelope = ? WHERE idx = ?", (forged, size - 2))
        conn.commit()
    finally:
        conn.close()

    verification.verify_now()
    latest = verification.data[0]
    assert not latest.ok
    assert latest.first_bad_index == size - 2
    assert "FAILED" in verification.output.value
