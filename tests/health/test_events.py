"""The supervisor announces mode changes and incidents on the workspace's event bus at once."""

from __future__ import annotations

from grace_kernel.events import HealthChanged
from grace_kernel.health import Supervisor
from grace_kernel.workspace import Workspace

from .conftest import back_to_normal, write_records


def test_mode_changes_and_incidents_are_announced_as_they_happen(
    ws: Workspace, supervisor: Supervisor
) -> None:
    seen: list[HealthChanged] = []
    ws.events.subscribe(HealthChanged, seen.append)
    write_records(ws, 2)
    supervisor.tick()
    assert seen == []  # healthy: nothing to say
    ws.settings.db_path.chmod(0o444)
    try:
        supervisor.tick()
    finally:
        ws.settings.db_path.chmod(0o644)
    changes = [(e.change, e.mode) for e in seen]
    assert ("incident-opened", "normal") in changes  # detected before the mode moved
    assert ("mode", "safe") in changes
    opened = next(e for e in seen if e.change == "incident-opened")
    assert "not writable" in opened.cause
    assert opened.incident is not None
    back_to_normal(supervisor)
    after = [(e.change, e.mode, e.incident) for e in seen]
    assert ("incident-closed", "normal", opened.incident) in after
    assert ("mode", "normal", opened.incident) in after  # stepped down while it was open
