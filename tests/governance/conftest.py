"""Shared pieces for the governance tests: the seeded policies, actions, workspaces, clocks.

Actions are built the way Grace builds them: facts come from the real fact
builders (:func:`path_facts`, :func:`host_facts`, ...), never typed in by hand,
so a test of the stance is also a test of what the builders compute.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.config import Settings
from grace_kernel.governance import (
    Action,
    ActionKind,
    Findings,
    PolicyEngine,
    Principal,
    Severity,
)
from grace_kernel.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SEEDED = REPO / "data" / "policies"

ALICE = Principal.user("alice")
BOB = Principal.user("bob")
SERVICE = Principal.service()
KERNEL = Principal.kernel("k1", on_behalf_of="alice")


def action(
    kind: ActionKind,
    resource: str,
    *,
    principal: Principal = ALICE,
    facts: Mapping[str, Any] | None = None,
    severity: Severity = Severity.NONE,
    sandbox_level: int = 0,
) -> Action:
    """An action as the trusted side would describe it."""
    findings = Findings(
        count=0 if severity is Severity.NONE else 1,
        max_severity=severity,
        rule_ids=frozenset() if severity is Severity.NONE else frozenset({"test-rule"}),
    )
    return Action(
        kind=kind,
        principal=principal,
        resource=resource,
        facts=dict(facts or {}),
        findings=findings,
        sandbox_level=sandbox_level,
    )


def cell(severity: Severity = Severity.NONE, *, principal: Principal = ALICE) -> Action:
    return action(ActionKind.CELL_EXECUTE, f"cell-{severity.name.lower()}", principal=principal,
                  severity=severity)  # fmt: skip


class FakeClock:
    """A settable clock for both ``time.time``-like and ``time.monotonic``-like seams."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def copy_policies(target: Path) -> Path:
    """A private, editable copy of the seeded policies (schema + ``*.cedar``, no test files)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in SEEDED.iterdir():
        if source.is_file():
            shutil.copy2(source, target / source.name)
    return target


def set_mode(ws: Workspace, mode: str) -> None:
    """Set the health mode the way the supervisor records it."""
    with ws.ledger.store.write() as txn:
        txn.set_meta("health.mode", mode)


def predicates(ws: Workspace, predicate_type: str) -> list[dict[str, Any]]:
    """Every ledger predicate of one type, in ledger order (with its index as ``_index``)."""
    found: list[dict[str, Any]] = []
    for index in range(ws.ledger.size):
        _, statement = ws.ledger.entry(index).decode()
        if statement.predicate_type == predicate_type:
            found.append({**statement.predicate, "_index": index})
    return found


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    """The seeded policies exactly as shipped in ``data/policies``."""
    return PolicyEngine(seeded_dir=SEEDED)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project directory (the workspace root) with its ``.grace`` directory."""
    project = tmp_path / "project"
    (project / ".grace").mkdir(parents=True)
    return project


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A real workspace on disk, seeded policies, no checkpoint timer."""
    settings = Settings(home=tmp_path / "project" / ".grace", checkpoint_interval=0.0)
    workspace = Workspace.open(settings)
    try:
        yield workspace
    finally:
        workspace.close()
