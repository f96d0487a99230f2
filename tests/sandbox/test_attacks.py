"""The attack matrix, run at every layer level this machine offers.

At each level every attack must be stopped by the first active layer on its
path (``Attack.expected``), and the report must name that layer; attacks that
no active layer can stop must get through *and* the layers that would have
stopped them must be reported missing.  The same holds for a machine with
fewer layers, simulated by a report with layers marked missing.
"""

from __future__ import annotations

import dataclasses

import pytest

from grace_kernel.sandbox import IsolationReport, LayerStatus
from grace_kernel.sandbox._attacks import ATTACKS, run_attacks
from grace_kernel.sandbox._probe import LAYERS

from .conftest import interpreter_for


@pytest.mark.parametrize("level", range(1, len(LAYERS) + 1))
def test_every_attack_is_stopped_by_the_first_active_layer_on_its_path(
    level: int, report: IsolationReport
) -> None:
    if report.level < level:
        missing = ", ".join(layer.name for layer in report.missing())
        assert missing, "a level below the maximum must name its missing layers"
    python = interpreter_for(level, report)
    outcomes = run_attacks(report, level=level, python=python)
    assert [o.attack for o in outcomes] == [a.name for a in ATTACKS]
    for outcome in outcomes:
        assert outcome.as_expected, outcome
        if outcome.expected is None:
            assert not outcome.stopped, outcome
        else:
            assert outcome.stopped_by in LAYERS, outcome


def test_at_full_isolation_nothing_gets_through(report: IsolationReport) -> None:
    if report.level < len(LAYERS):
        pytest.skip(f"this machine offers level {report.level}: {report.missing()}")
    outcomes = run_attacks(report)
    assert all(o.stopped for o in outcomes), [o for o in outcomes if not o.stopped]
    stoppers = {o.attack: o.stopped_by for o in outcomes}
    assert stoppers == {
        "tcp-connect": "seccomp",
        "write-outside": "bubblewrap",
        "read-planted-key": "bubblewrap",
        "allocate-2g": "cgroups",
        "fork-bomb": "cgroups",
        "cpu-spin": "process",
        "exhaust-fds": "process",
        "big-file": "process",
        "exec-shell": "landlock",
        "ctypes-system": "landlock",
        "fork-exec": "landlock",
    }


def _without(report: IsolationReport, *names: str) -> IsolationReport:
    layers = tuple(
        LayerStatus(layer.name, False, "simulated: not on this machine")
        if layer.name in names
        else layer
        for layer in report.layers
    )
    return dataclasses.replace(report, layers=layers)


def test_a_machine_without_seccomp_and_landlock_falls_back_and_says_so(
    report: IsolationReport,
) -> None:
    if not (report.active("bubblewrap") and report.active("cgroups")):
        pytest.skip("needs bubblewrap and cgroups to simulate the others missing")
    fewer = _without(report, "seccomp", "landlock")
    assert fewer.level == 1
    assert [layer.name for layer in fewer.missing()] == ["seccomp", "landlock"]
    outcomes = {o.attack: o for o in run_attacks(fewer)}
    assert outcomes["tcp-connect"].stopped_by == "bubblewrap"  # the empty network namespace
    assert outcomes["read-planted-key"].stopped_by == "bubblewrap"
    for name in ("exec-shell", "ctypes-system", "fork-exec"):  # only Landlock stops exec
        assert not outcomes[name].stopped
        assert outcomes[name].expected is None
    assert all(o.as_expected for o in outcomes.values())
