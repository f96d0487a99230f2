"""The dashboard widgets, one class per thing a person looks at.

Every widget takes a :class:`~grace_widgets.WorkspaceView`, draws itself on
construction and redraws in place on :meth:`~grace_widgets.Panel.refresh`
(a :class:`~grace_widgets.RefreshBar` calls it from a button and a
browser-side timer).  Each keeps what it last drew in ``data`` (shaped, plain
Python), which is what the tests look at.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.errors import GraceError
from grace_kernel.governance import PolicyEngine
from grace_kernel.health import (
    CheckResult,
    Component,
    Health,
    Registry,
    Supervisor,
    policy_check,
    scanner_check,
)
from grace_kernel.hunter import Scanner
from grace_widgets import _plots, _shape
from grace_widgets._source import DASHBOARD, WorkspaceView
from grace_widgets._ui import PlotPanel, TablePanel, table, utc

__all__ = [
    "AlertTable",
    "AlertTimeline",
    "AlertsByRule",
    "ApprovalHistory",
    "Checkpoints",
    "Components",
    "DecisionTimeline",
    "DenialsByPolicy",
    "Incidents",
    "LedgerGrowth",
    "PendingApprovals",
    "RecentRuns",
    "RecoveryTimes",
    "TopFiles",
    "Verification",
]


def _severity_class(column: int, value: Any, *, at: int) -> str | None:
    return f"grace-sev-{value}" if column == at else None


# ---------------------------------------------------------------------- security


class AlertTimeline(PlotPanel):
    """New alerts over time (by first sighting), stacked by severity."""

    title = "Alerts over time, by severity"
    empty = "No alerts yet: Hunter has raised none in this workspace."

    def update(self) -> bool:
        self.data = _shape.alerts_over_time(self.view.alerts(), now=time.time())
        if self.data.empty:
            return False
        self.show(_plots.stacked(self.data, title="new alerts per interval (UTC)"))
        return True


class AlertsByRule(PlotPanel):
    """How many alerts each rule (or deciding policy) raised."""

    title = "Alerts by rule"
    empty = "No alerts yet."

    def update(self) -> bool:
        self.data = _shape.alerts_by_rule(self.view.alerts())
        if not self.data:
            return False
        self.show(_plots.bars(self.data, title="alerts per rule id", xlabel="alerts"))
        return True


class TopFiles(TablePanel):
    """The files with the most alerts, their worst severity and the rules seen there."""

    title = "Top files"
    empty = "No file has an alert."

    def update(self) -> bool:
        self.data = _shape.top_files(self.view.alerts())
        if not self.data:
            return False
        rows = [(r["file"], r["alerts"], r["worst"], ", ".join(r["rules"])) for r in self.data]
        self.show(
            table(
                ["file", "alerts", "worst", "rules"],
                rows,
                classes=lambda c, v: _severity_class(c, v, at=2),
            )
        )
        return True


class AlertTable(TablePanel):
    """Alerts in one state (default: open), newest first.

    A dashboard is read-only (it runs in a kernel, which never signs): the
    last line says which ``grace alerts`` command changes an alert.
    """

    title = "Open alerts"
    empty = "No open alerts."

    def __init__(self, view: WorkspaceView, *, state: str | None = "open", limit: int = 25) -> None:
        self.state, self.limit = state, limit
        title = f"{state.capitalize()} alerts" if state else "All alerts"
        super().__init__(view, title=title)

    def update(self) -> bool:
        found = self.view.alerts(state=self.state)
        self.data = found[: self.limit]
        if not found:
            return False
        rows = [
            (a.id, a.severity, a.rule_id, a.title, a.location, a.state, a.count, utc(a.last_seen))
            for a in self.data
        ]
        more = (
            f"<p>{len(found) - self.limit} more not shown.</p>" if len(found) > self.limit else ""
        )
        self.show(
            table(
                ["id", "severity", "rule", "title", "location", "state", "seen", "last seen (UTC)"],
                rows,
                classes=lambda c, v: _severity_class(c, v, at=1),
            )
            + more
            + "<p style='font-size:12px;color:#6b7280'>Change one with "
            "<code>grace alerts ack|resolve|false-positive ID</code>: every change is signed, "
            "so it is made on the trusted side, never from a dashboard.</p>"
        )
        return True


# ---------------------------------------------------------------------- governance


class DecisionTimeline(PlotPanel):
    """Governance decisions over time, stacked by effect (allow, approval, deny)."""

    title = "Decisions over time"
    empty = "No governance decisions recorded yet."

    def update(self) -> bool:
        self.data = _shape.decisions_over_time(self.view.records(), now=time.time())
        if self.data.empty:
            return False
        self.show(_plots.stacked(self.data, title="decisions per interval (UTC)"))
        return True


class DenialsByPolicy(PlotPanel):
    """Denied actions per deciding policy id."""

    title = "Denials by policy"
    empty = "Nothing has been denied."

    def update(self) -> bool:
        self.data = _shape.denials_by_policy(self.view.records())
        if not self.data:
            return False
        self.show(_plots.bars(self.data, title="denied decisions per policy", xlabel="denials"))
        return True


class PendingApprovals(TablePanel):
    """Approval requests waiting for a person, oldest first, with their expiry."""

    title = "Pending approvals"
    empty = "No approval request is waiting."

    def update(self) -> bool:
        now = time.time()
        self.data = _shape.pending_approvals(self.view.approvals(state="pending"), now=now)
        if not self.data:
            return False
        rows = [
            (
                a.id,
                a.action.get("kind", "?"),
                a.action.get("resource", ""),
                a.requester,
                ", ".join(a.policy_ids),
                "; ".join(a.reasons),
                f"{max(0, int(a.expires_at - now)) // 60} min",
            )
            for a in self.data
        ]
        self.show(
            table(["id", "action", "resource", "requester", "policy", "why", "expires in"], rows)
            + "<p style='font-size:12px;color:#6b7280'>Decide with "
            "<code>grace approvals approve|deny ID</code> (a person other than the requester)."
            "</p>"
        )
        return True


class ApprovalHistory(TablePanel):
    """Decided approval requests (approved, denied, expired, used), newest first."""

    title = "Approval history"
    empty = "No approval request has been decided yet."

    def __init__(self, view: WorkspaceView, *, limit: int = 15) -> None:
        self.limit = limit
        super().__init__(view)

    def update(self) -> bool:
        decided = [a for a in self.view.approvals() if a.state != "pending"]
        decided.sort(key=lambda a: a.decided_at or a.created_at, reverse=True)
        self.data = decided[: self.limit]
        if not self.data:
            return False
        rows = [
            (
                a.id,
                a.state,
                a.action.get("kind", "?"),
                a.action.get("resource", ""),
                a.requester,
                a.decided_by or "-",
                a.note or "",
                utc(a.decided_at),
            )
            for a in self.data
        ]
        self.show(
            table(
                ["id", "state", "action", "resource", "requester", "decided by", "note", "at"],
                rows,
                classes=lambda c, v: (
                    ("grace-ok" if v in {"approved", "used"} else "grace-bad") if c == 1 else None
                ),
            )
        )
        return True


# ---------------------------------------------------------------------- verification


class LedgerGrowth(PlotPanel):
    """Records over time, with the signed checkpoints marked."""

    title = "Ledger growth"
    empty = "The ledger is empty (run `grace init`)."

    def update(self) -> bool:
        records = self.view.records()
        self.data = _shape.ledger_growth(records)
        if not self.data:
            return False
        marks = [(c.created_at, float(c.size)) for c in self.view.checkpoints()]
        self.show(
            _plots.line(
                [(t, float(n)) for t, n in self.data],
                title="records in the ledger (UTC)",
                ylabel="records",
                marks={"signed checkpoint": marks},
            )
        )
        return True


class Checkpoints(TablePanel):
    """The signed checkpoints (C2SP signed notes over the Merkle root), newest first."""

    title = "Checkpoints"
    empty = "No checkpoint signed yet."

    def __init__(self, view: WorkspaceView, *, limit: int = 10) -> None:
        self.limit = limit
        super().__init__(view)

    def update(self) -> bool:
        self.data = list(reversed(self.view.checkpoints()))[: self.limit]
        if not self.data:
            return False
        rows = [(c.size, utc(c.created_at), c.origin) for c in self.data]
        self.show(table(["size", "signed at (UTC)", "origin"], rows))
        return True


class Verification(TablePanel):
    """Verify the whole ledger (read-only) and show the verification history.

    Verifies when built, on "Verify now", and on a refresh that finds new
    records.  A dashboard may not write, so its own verifications are kept in
    the view ("this page"); the rest of the history is the workspace's
    (``grace verify``, the server's API, the JupyterLab panel).
    """

    title = "Verification"
    empty = "Nothing to verify yet."

    def build(self) -> widgets.Widget:
        self.button = widgets.Button(description="Verify now", icon="check")
        self.button.on_click(lambda _b: self.verify_now())
        self.output = widgets.HTML()
        return widgets.VBox([self.button, self.output])

    def show(self, markup: str) -> None:
        self.output.value = markup

    def verify_now(self) -> None:
        self.view.verify()
        self.refresh()

    def update(self) -> bool:
        own = self.view.verifications
        size = len(self.view.records())
        if not own or own[-1].size != size:
            self.view.verify()
        self.data = self.view.verification_history()
        rows = [
            (
                utc(v.at),
                "verified" if v.ok else "FAILED",
                v.size,
                "-" if v.first_bad_index is None else v.first_bad_index,
                v.problem or "",
                f"{v.seconds * 1000:.0f} ms",
                "this page" if v.via == DASHBOARD else f"{v.by} via {v.via}",
            )
            for v in self.data
        ]
        self.show(
            table(
                ["at (UTC)", "result", "records", "first bad", "problem", "took", "by"],
                rows,
                classes=lambda c, v: (
                    ("grace-ok" if v == "verified" else "grace-bad") if c == 1 else None
                ),
            )
        )
        return True


class RecentRuns(TablePanel):
    """Governed notebook runs and their provenance: the signed ``notebook-run`` record,
    the digests it binds and how many of its cell records are in the ledger."""

    title = "Provenance of recent runs"
    empty = "No governed notebook run yet (`grace run NOTEBOOK`)."

    def update(self) -> bool:
        self.data = _shape.recent_runs(self.view.records())
        if not self.data:
            return False
        rows = [
            (
                r.index,
                r.run_id,
                r.notebook,
                r.status,
                f"{r.cells_found}/{r.cells}",
                r.input_sha256[:12],
                r.output_sha256[:12],
                r.principal,
                utc(r.recorded_at),
            )
            for r in self.data
        ]
        self.show(
            table(
                [
                    "record",
                    "run",
                    "notebook",
                    "status",
                    "cell records",
                    "input sha256",
                    "output sha256",
                    "by",
                    "at (UTC)",
                ],
                rows,
                classes=lambda c, v: ("grace-ok" if v == "ok" else "grace-bad") if c == 3 else None,
            )
        )
        return True


# ---------------------------------------------------------------------- health


def _store_check(view: WorkspaceView) -> CheckResult:
    """The ledger as a reader sees it: it opens read-only and answers its size."""
    now = time.time()
    if not view.exists:
        return CheckResult(
            component="store", health=Health.FAILED, detail=f"no database in {view.home}", at=now
        )
    try:
        records = len(view.records())
        checkpoints = view.checkpoints()
    except GraceError as exc:
        return CheckResult(component="store", health=Health.FAILED, detail=exc.message, at=now)
    latest = checkpoints[-1].size if checkpoints else "none"
    return CheckResult(
        component="store",
        health=Health.OK,
        detail=f"{records} records, newest checkpoint at {latest} (read-only probe)",
        at=time.time(),
    )


class Components(TablePanel):
    """Each component's health, checked now from this kernel, and the stored mode.

    A dashboard must not hold the workspace open for writing, so it runs the
    checks a reader can run (the ledger read-only, the policy set, the Hunter
    scanner) with a :class:`~grace_kernel.health.Supervisor` that records
    nothing; the server's supervisor records what it heals (see Incidents).
    """

    title = "Components"
    empty = "No components."

    def __init__(self, view: WorkspaceView) -> None:
        self._supervisor: Supervisor | None = None
        super().__init__(view)

    def _build_supervisor(self) -> Supervisor:
        settings = self.view.settings
        engine = PolicyEngine(
            seeded_dir=settings.policy_dir or seeded_policy_dir(),
            override_dir=settings.override_policy_dir,
        )
        scanner: list[Scanner] = []

        def get_scanner() -> Scanner:
            if not scanner:
                scanner.append(Scanner())
            return scanner[0]

        registry = Registry(
            [
                Component("store", lambda: _store_check(self.view), critical=True),
                Component("policy", policy_check(engine), critical=True),
                Component("scanner", scanner_check(get_scanner)),
            ]
        )
        return Supervisor(None, registry, check_timeout=10.0)

    def update(self) -> bool:
        if self._supervisor is None:
            self._supervisor = self._build_supervisor()
        status = self._supervisor.check()
        mode = self.view.mode()
        self.data = {"mode": mode, "components": status["components"]}
        rows = [
            (
                c["name"],
                c["health"],
                c["detail"],
                "yes" if c["critical"] else "no",
                "-" if c["latency_ms"] is None else f"{c['latency_ms']:.0f} ms",
            )
            for c in status["components"]
        ]
        badge = "grace-ok" if mode == "normal" else "grace-bad"
        self.show(
            f"<p>Mode (as the supervisor last stored it): <span class='{badge}'>{mode}</span></p>"
            + table(
                ["component", "health", "detail", "critical", "check took"],
                rows,
                classes=lambda c, v: ("grace-ok" if v == "ok" else "grace-bad") if c == 1 else None,
            )
        )
        return True


class Incidents(TablePanel):
    """Incidents the supervisor opened: root cause, members, actions, modes, healing."""

    title = "Incidents"
    empty = "No incident recorded: every component has stayed healthy."

    def __init__(self, view: WorkspaceView, *, limit: int = 15) -> None:
        self.limit = limit
        super().__init__(view)

    def update(self) -> bool:
        self.data = self.view.incidents(self.limit)
        if not self.data:
            return False
        rows = [
            (
                i.id,
                i.root,
                ", ".join(i.members),
                i.cause,
                "; ".join(
                    f"{a.get('action')} {a.get('component')}: {a.get('detail')}" for a in i.actions
                ),
                f"{i.mode_before} → {i.mode_after}",
                utc(i.detected_at),
                "open" if i.healed_at is None else utc(i.healed_at),
            )
            for i in self.data
        ]
        self.show(
            table(
                [
                    "id",
                    "root",
                    "members",
                    "cause",
                    "actions",
                    "mode",
                    "detected (UTC)",
                    "healed (UTC)",
                ],
                rows,
                classes=lambda c, v: "grace-bad" if c == 7 and v == "open" else None,
            )
        )
        return True


class RecoveryTimes(PlotPanel):
    """Seconds from detection to healing, per healed incident (oldest first)."""

    title = "Recovery times"
    empty = "No incident has been healed yet."

    def update(self) -> bool:
        self.data = _shape.recovery_times(self.view.incidents(50))
        if not self.data:
            return False
        self.show(_plots.bars(self.data[::-1], title="time to heal", xlabel="seconds"))
        return True
