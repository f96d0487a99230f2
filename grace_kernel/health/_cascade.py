"""Pure decisions: which failures explain the others, and which mode the results call for."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from grace_kernel.health._model import CheckResult, Health, Mode
from grace_kernel.health._registry import Registry

__all__ = ["mode_for", "roots"]


def roots(failed: Collection[str], registry: Registry) -> list[str]:
    """The failed components none of whose own dependencies failed, in dependency order.

    The store failing explains the loops that depend on it failing: only the
    store is a root, and it is healed first.
    """
    return [
        name
        for name in registry.order()
        if name in failed and not registry.dependencies(name) & set(failed)
    ]


def mode_for(
    results: Mapping[str, CheckResult], registry: Registry, *, given_up: Collection[str] = ()
) -> tuple[Mode, str]:
    """The mode the latest results call for, with its cause.

    lockdown: a check says the data cannot be trusted (a damaged ledger store);
    safe: a critical component failed, or restarts were given up (intensity);
    degraded: a non-critical component failed, or anything is under pressure.
    """
    worst, cause = Mode.NORMAL, "every component is healthy"
    for name in registry.order():
        found = results.get(name)
        if found is None:
            continue
        if found.health is Health.FAILED and found.untrusted:
            mode, why = Mode.LOCKDOWN, f"{name} cannot be trusted: {found.detail}"
        elif found.health is Health.FAILED and registry.get(name).critical:
            mode, why = Mode.SAFE, f"critical {name} failed: {found.detail}"
        elif name in given_up:
            mode, why = Mode.SAFE, f"{name} restarted too often; restarts stopped"
        elif found.health is not Health.OK:
            mode, why = Mode.DEGRADED, f"{name} {found.health.value}: {found.detail}"
        else:
            continue
        if mode.rank > worst.rank:
            worst, cause = mode, why
    return worst, cause
