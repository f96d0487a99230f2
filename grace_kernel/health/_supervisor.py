"""The supervisor: checks every component, heals what it can, and sets the mode.

One :meth:`Supervisor.tick` runs every check in dependency order, groups the
failures into one incident (its root is the failure no other failure
explains), restarts the root first with per-component backoff and an
intensity limit, re-checks what it restarted, and moves the mode: up at
once, down only after ``stable_period`` seconds of better health.

Governance reads the in-memory mode (the supervisor attaches itself to the
workspace), so a transition takes effect immediately.  Its records (signed
transitions and incidents, the ``health.mode`` meta) are queued and written
when the store is healthy, so nothing is lost while the store is down.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from grace_kernel.errors import GraceError
from grace_kernel.events import HealthChanged
from grace_kernel.health._backoff import Backoff, Intensity
from grace_kernel.health._cascade import mode_for, roots
from grace_kernel.health._checks import run_bounded
from grace_kernel.health._incidents import Incident, IncidentStore
from grace_kernel.health._model import CheckResult, Health, Mode
from grace_kernel.health._records import HEALTH_INCIDENT, HEALTH_TRANSITION, append_health_record
from grace_kernel.health._registry import Registry, Strategy
from grace_kernel.workspace import Workspace

__all__ = ["Supervisor"]

MANUAL_META = "health.manual"


@dataclasses.dataclass
class _State:
    backoff: Backoff
    intensity: Intensity
    result: CheckResult | None = None
    restarts: int = 0
    next_restart: float = 0.0
    given_up: bool = False


class Supervisor:
    """Health checks, restarts, incidents and the mode for one workspace (or none, in tests)."""

    def __init__(
        self,
        workspace: Workspace | None,
        registry: Registry,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        check_timeout: float = 2.0,
        cascade_window: float = 10.0,
        stable_period: float = 5.0,
        backoff: Callable[[], Backoff] = Backoff,
        intensity: Callable[[], Intensity] = Intensity,
        store: str | None = "store",
        on_store_healthy: Iterable[Callable[[], object]] = (),
    ) -> None:
        self.workspace, self.registry = workspace, registry
        self._clock, self._wall = clock, wall
        self.check_timeout, self.cascade_window = check_timeout, cascade_window
        self.stable_period = stable_period
        self._backoff, self._intensity = backoff, intensity
        self.store = store
        self._on_store_healthy = list(on_store_healthy)
        self._states: dict[str, _State] = {}
        self.mode, self.cause, self.manual = self._stored_modes()
        self._calm_since: float | None = None
        self.incident: Incident | None = None
        self._last_failure = 0.0
        self._recent: collections.deque[Incident] = collections.deque(maxlen=20)
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self._dirty: dict[str, Incident] = {}
        self._incidents: IncidentStore | None = None
        self.journal: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)
        self.last_error: str | None = None
        self._manual_cause = f"set by hand to {self.manual.value}"
        self._manual_dirty = False  # a containment floor not yet stored
        if workspace is not None:
            workspace.mode_source = lambda: self.mode.value

    # ------------------------------------------------------------------ state

    def _stored_modes(self) -> tuple[Mode, str, Mode]:
        if self.workspace is None:
            return Mode.NORMAL, "started", Mode.NORMAL
        try:
            with self.workspace.ledger.store.read() as txn:
                stored, manual = txn.get_meta("health.mode"), txn.get_meta(MANUAL_META)
        except GraceError as exc:  # unreadable: assume the worst until the first tick
            return Mode.LOCKDOWN, f"the stored mode cannot be read: {exc.message}", Mode.NORMAL
        return Mode(stored or "normal"), "stored", Mode(manual or "normal")

    def _state(self, name: str) -> _State:
        if name not in self._states:
            self._states[name] = _State(self._backoff(), self._intensity())
        return self._states[name]

    def _store_ok(self, results: dict[str, CheckResult]) -> bool:
        if self.workspace is None or self.store is None:
            return False
        found = results.get(self.store)
        return found is None or found.health is not Health.FAILED

    # ------------------------------------------------------------------ the cycle

    def tick(self) -> list[dict[str, Any]]:
        """One round: check, open or grow the incident, heal, set the mode, record."""
        return self._cycle(manual=False, only=None)

    def heal(self, name: str | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        """Check now and restart what failed (``name`` alone if given), ignoring backoff.

        With ``dry_run`` nothing is restarted or recorded: the answer lists what would be.
        """
        if name is not None:
            self.registry.get(name)
        if dry_run:
            results = self._check_all()
            actions = self._heal(results, self._clock(), manual=True, dry_run=True, only=name)
        else:
            actions = self._cycle(manual=True, only=name)
            results = {n: s.result for n, s in self._states.items() if s.result is not None}
        if name is not None and not actions:
            found = results[name]
            actions = [{"component": name, "action": "none", "detail": f"{found.health.value}"}]
        return {"dry_run": dry_run, "actions": actions, "mode": self.mode.value}

    def _cycle(self, *, manual: bool, only: str | None) -> list[dict[str, Any]]:
        now = self._clock()
        results = self._check_all()
        if not self._store_ok(results):
            self._drop_incident_store()
        self._track(results, now)
        self._settle_mode(dict(results), now, at_once=False)  # what was detected counts
        actions = self._heal(results, now, manual=manual, dry_run=False, only=only)
        if self.incident is not None and actions:
            self.incident.actions.extend(actions)
            self._dirty[self.incident.id] = self.incident
        self._settle_mode(results, now, at_once=manual)
        self._maybe_close(results, now)
        if self._store_ok(results):
            self._flush()
        return actions

    def _check_all(self) -> dict[str, CheckResult]:
        results: dict[str, CheckResult] = {}
        for name in self.registry.order():
            results[name] = self._check(name)
        return results

    def _check(self, name: str) -> CheckResult:
        found = run_bounded(name, self.registry.get(name).check, self.check_timeout)
        state = self._state(name)
        state.result = found
        if found.health is not Health.FAILED:
            state.backoff.reset()
            state.given_up = False
        return found

    def observe(self, result: CheckResult, *, actions: Iterable[dict[str, Any]] = ()) -> None:
        """A verdict (and what was done about it) reached between ticks.

        The kernel watchdog heals kernels itself, usually well within one
        supervisor tick, so a tick alone would never see the failure: it
        reports here instead.  A failure opens or joins the incident exactly as
        a failed check would; ``actions`` (a restart, an isolation) are added
        to the open incident.  Recorded at the next flush.
        """
        now = self._clock()
        self._state(result.component).result = result
        if result.health is Health.FAILED:
            known = {n: s.result for n, s in self._states.items() if s.result is not None}
            self._track({**known, result.component: result}, now)
        done = [{**a, "at": a.get("at", self._wall())} for a in actions]
        if done and self.incident is not None:
            self.incident.actions.extend(done)
            self._dirty[self.incident.id] = self.incident
        self._flush_if_possible()

    def when_store_healthy(self, hook: Callable[[], object]) -> None:
        """Call ``hook`` after every flush that found the store healthy (e.g. drain a spool)."""
        self._on_store_healthy.append(hook)

    def contain(self, mode: Mode, cause: str) -> None:
        """Raise the mode floor to ``mode`` at once (a trigger's containment).

        The floor is stored like a manual mode, so it survives restarts; only a
        person lowers it again, through ``grace mode set`` and its approval.
        """
        if mode.rank > self.manual.rank:
            self.manual, self._manual_cause, self._manual_dirty = mode, cause, True
        if mode.rank > self.mode.rank:
            self._transition(mode, cause)
        self._flush_if_possible()

    def floor_changed(self) -> None:
        """``grace mode set`` stored a new floor: take it up and settle the mode at once."""
        self._flush_if_possible()  # a flush reads the stored floor
        known = {n: s.result for n, s in self._states.items() if s.result is not None}
        self._settle_mode(known, self._clock(), at_once=True)
        self._flush_if_possible()

    def _flush_if_possible(self) -> None:
        store = self._states.get(self.store or "")
        known = None if store is None else store.result
        if self.workspace is not None and (known is None or known.ok):
            self._flush()

    # ------------------------------------------------------------------ incidents

    def _track(self, results: dict[str, CheckResult], now: float) -> None:
        failed = [n for n, r in results.items() if r.health is Health.FAILED]
        if not failed:
            return
        self._last_failure = now
        incident = self.incident
        if incident is None:
            root = roots(failed, self.registry)[0]
            incident = self.incident = Incident(
                id=f"inc-{secrets.token_hex(6)}",
                root=root,
                members=failed,
                cause=results[root].detail,
                detected_at=self._wall(),
                mode_before=self.mode.value,
                mode_after=self.mode.value,
            )
            self._recent.appendleft(incident)
            self._record_incident(incident, "opened")
            return
        added = [n for n in failed if n not in incident.members]
        if added:
            incident.members = [
                n for n in self.registry.order() if n in {*incident.members, *added}
            ]
            root = roots(incident.members, self.registry)[0]
            if root != incident.root:
                incident.root, incident.cause = root, results[root].detail
            self._dirty[incident.id] = incident

    def _maybe_close(self, results: dict[str, CheckResult], now: float) -> None:
        incident = self.incident
        if incident is None or any(r.health is Health.FAILED for r in results.values()):
            return
        if now - self._last_failure < self.cascade_window:
            return  # a late failure within the window still joins this incident
        if self._calm_since is not None:
            return  # the mode steps down first, so its record still names this incident
        incident.healed_at = self._wall()
        self.incident = None
        self._record_incident(incident, "closed")

    def _record_incident(self, incident: Incident, event: str) -> None:
        self._dirty[incident.id] = incident
        self._queue(
            HEALTH_INCIDENT, f"incident:{incident.id}", {"event": event, **incident.to_json()}
        )
        self._announce(f"incident-{event}", incident.cause, incident.id)

    def _announce(self, change: str, cause: str, incident: str | None) -> None:
        """On the workspace's event bus (the server forwards it to Jupyter's), at once."""
        if self.workspace is not None:
            event = HealthChanged(
                change=change, mode=self.mode.value, cause=cause, incident=incident
            )
            self.workspace.events.emit(event)

    # ------------------------------------------------------------------ healing

    def _heal(
        self,
        results: dict[str, CheckResult],
        now: float,
        *,
        manual: bool,
        dry_run: bool,
        only: str | None,
    ) -> list[dict[str, Any]]:
        failed = [n for n, r in results.items() if r.health is Health.FAILED]
        first = roots(failed, self.registry)
        actions: list[dict[str, Any]] = []
        for name in [*first, *(n for n in failed if n not in first)]:
            if (only is not None and name != only) or results[name].health is not Health.FAILED:
                continue
            blocked = [
                d for d in self.registry.dependencies(name) if results[d].health is Health.FAILED
            ]
            if blocked:
                if manual:
                    actions.append(_action(name, "wait", f"{', '.join(blocked)} must heal first"))
                continue
            targets = [name]
            if self.registry.get(name).strategy is Strategy.REST_FOR_ONE:
                targets += self.registry.dependents(name)
            for target in targets:
                action = self._restart(target, now, manual=manual, dry_run=dry_run)
                if action is not None:
                    actions.append(action)
                if not dry_run and action is not None and action["action"] == "restart":
                    results[target] = self._check(target)
        return actions

    def _restart(
        self, name: str, now: float, *, manual: bool, dry_run: bool
    ) -> dict[str, Any] | None:
        component, state = self.registry.get(name), self._state(name)
        if component.restart is None:
            return (
                _action(name, "none", "no restart action; waits for its check") if manual else None
            )
        if not manual:
            if state.given_up or now < state.next_restart:
                return None
            if not state.intensity.allow(now):
                state.given_up = True
                limit = f"{state.intensity.max_restarts} restarts in {state.intensity.period:g} s"
                return _action(name, "give-up", f"more than {limit}: escalating")
        if dry_run:
            return _action(name, "would-restart", (state.result.detail if state.result else ""))
        state.given_up = False
        try:
            component.restart()
            outcome = "ok"
        except Exception as exc:  # a failed restart is counted and backed off, not raised
            outcome = f"failed: {exc}"
        state.restarts += 1
        state.next_restart = now + state.backoff.next()
        return {**_action(name, "restart", outcome), "at": self._wall()}

    # ------------------------------------------------------------------ modes

    def _settle_mode(self, results: dict[str, CheckResult], now: float, *, at_once: bool) -> None:
        given_up = [n for n, s in self._states.items() if s.given_up]
        auto, cause = mode_for(results, self.registry, given_up=given_up)
        target = auto
        if self.manual.rank > auto.rank:
            target, cause = self.manual, self._manual_cause
        if target.rank > self.mode.rank:
            self._transition(target, cause)
        elif target.rank < self.mode.rank:
            if self._calm_since is None:
                self._calm_since = now
            if at_once or now - self._calm_since >= self.stable_period:
                self._transition(target, cause)
        else:
            self._calm_since = None
        if self.incident is not None and self.mode.rank > Mode(self.incident.mode_after).rank:
            self.incident.mode_after = self.mode.value
            self._dirty[self.incident.id] = self.incident

    def _transition(self, to: Mode, cause: str) -> None:
        incident = self.incident.id if self.incident else None
        record = {
            "from": self.mode.value,
            "to": to.value,
            "cause": cause,
            "incident": incident,
            "at": self._wall(),
        }
        self.mode, self.cause, self._calm_since = to, cause, None
        self._queue(HEALTH_TRANSITION, "health.mode", record)
        self._announce("mode", cause, incident)

    # ------------------------------------------------------------------ records

    def _queue(self, predicate_type: str, subject: str, predicate: dict[str, Any]) -> None:
        self._pending.append((predicate_type, subject, predicate))

    def _flush(self) -> None:
        """Write queued records, incident rows and the mode meta; keep what fails for later."""
        assert self.workspace is not None  # _store_ok guarantees it
        ledger = self.workspace.ledger
        try:
            if self._manual_dirty:
                with ledger.store.write() as txn:
                    txn.set_meta(MANUAL_META, self.manual.value)
                self._manual_dirty = False
            while self._pending:
                predicate_type, subject, predicate = self._pending[0]
                entry = append_health_record(ledger, predicate_type, subject, predicate)
                self._pending.pop(0)
                self.journal.append({**predicate, "ledger_index": entry.index})
            if self._dirty:
                incidents = self._incident_store()
                for key in list(self._dirty):
                    incidents.save(self._dirty.pop(key))
            with ledger.store.read() as txn:
                stored, manual = txn.get_meta("health.mode"), txn.get_meta(MANUAL_META)
            if Mode(manual or "normal") is not self.manual:  # changed by `grace mode set`
                self.manual = Mode(manual or "normal")
                self._manual_cause = f"set by hand to {self.manual.value}"
            if stored != self.mode.value:
                with ledger.store.write() as txn:
                    txn.set_meta("health.mode", self.mode.value)
            for hook in self._on_store_healthy:
                hook()
            self.last_error = None
        except GraceError as exc:
            self.last_error = exc.message

    def _incident_store(self) -> IncidentStore:
        assert self.workspace is not None
        if self._incidents is None:
            self._incidents = IncidentStore(self.workspace.settings.db_path)
        return self._incidents

    def _drop_incident_store(self) -> None:
        """Close before any recovery replaces the file (SQLite unlinks -wal/-shm by name)."""
        if self._incidents is not None:
            with contextlib.suppress(GraceError):
                self._incidents.close()
            self._incidents = None

    # ------------------------------------------------------------------ reading

    def check(self) -> dict[str, Any]:
        """Run every check and report, without healing, recording or changing the mode."""
        self._check_all()
        return self.status()

    @property
    def pending(self) -> int:
        """Records waiting for the store to come back."""
        return len(self._pending)

    def status(self, *, incidents: int = 10) -> dict[str, Any]:
        components = []
        for name in self.registry.order():
            component, state = self.registry.get(name), self._state(name)
            found = state.result
            components.append(
                {
                    "name": name,
                    "health": found.health.value if found else "unknown",
                    "detail": found.detail if found else "not checked yet",
                    "last_check": found.at if found else None,
                    "latency_ms": round(found.latency_ms, 3) if found else None,
                    "restarts": state.restarts,
                    "given_up": state.given_up,
                    "critical": component.critical,
                    "depends_on": list(component.depends_on),
                    "strategy": component.strategy.value,
                }
            )
        return {
            "mode": self.mode.value,
            "cause": self.cause,
            "manual": self.manual.value,
            "components": components,
            "incidents": [i.to_json() for i in self.recent_incidents(incidents)],
            "pending_records": self.pending,
            "error": self.last_error,
        }

    def recent_incidents(self, limit: int = 10) -> list[Incident]:
        """The newest incidents: those in memory first, then the stored ones."""
        found = {i.id: i for i in self._recent}
        store = self._states.get(self.store or "")
        healthy = store is not None and store.result is not None and store.result.ok
        if self.workspace is not None and healthy:
            with contextlib.suppress(GraceError):
                for stored in self._incident_store().recent(limit):
                    found.setdefault(stored.id, stored)
        return sorted(found.values(), key=lambda i: i.detected_at, reverse=True)[:limit]


def _action(component: str, action: str, detail: str) -> dict[str, Any]:
    return {"component": component, "action": action, "detail": detail}
