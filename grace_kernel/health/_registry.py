"""The components Grace watches: each with a check, its dependencies and a restart.

The dependencies form a graph (a component depends on the ones it cannot work
without: the background loops on the store).  :class:`Registry` refuses
unknown dependencies and cycles, and gives the order checks and restarts run
in: a component always after everything it depends on.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable

from grace_kernel.errors import InputError
from grace_kernel.health._model import CheckResult

__all__ = ["Component", "Registry", "Strategy"]


class Strategy(enum.StrEnum):
    """What is restarted when a component fails (Erlang/OTP's names)."""

    ONE_FOR_ONE = "one-for-one"  # the component alone
    REST_FOR_ONE = "rest-for-one"  # the component, then everything that depends on it


@dataclasses.dataclass(frozen=True)
class Component:
    name: str
    check: Callable[[], CheckResult]
    depends_on: tuple[str, ...] = ()
    restart: Callable[[], None] | None = None
    critical: bool = False  # down means safe mode, not just degraded
    strategy: Strategy = Strategy.ONE_FOR_ONE


class Registry:
    """Components by name, with their dependency graph."""

    def __init__(self, components: Iterable[Component] = ()) -> None:
        self._components: dict[str, Component] = {}
        for component in components:
            self.add(component)

    def add(self, component: Component) -> None:
        if not component.name or component.name in self._components:
            raise InputError(f"component name {component.name!r} is empty or already registered")
        self._components[component.name] = component
        try:
            self.order()
        except InputError:
            del self._components[component.name]
            raise

    def remove(self, name: str) -> Component:
        self.get(name)
        users = [c.name for c in self._components.values() if name in c.depends_on]
        if users:
            raise InputError(
                f"component {name!r} is a dependency of {', '.join(users)}",
                hint="remove the components that depend on it first",
            )
        return self._components.pop(name)

    def get(self, name: str) -> Component:
        try:
            return self._components[name]
        except KeyError:
            known = ", ".join(self._components) or "none"
            raise InputError(f"no component {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._components

    def __len__(self) -> int:
        return len(self._components)

    def order(self) -> list[str]:
        """Every component after its dependencies (ties in registration order)."""
        done: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                cycle = " -> ".join((*path[path.index(name) :], name))
                raise InputError(f"component dependencies form a cycle: {cycle}")
            if name not in self._components:
                raise InputError(f"component {path[-1]!r} depends on unknown {name!r}")
            state[name] = "visiting"
            for dep in self._components[name].depends_on:
                visit(dep, (*path, name))
            state[name] = "done"
            done.append(name)

        for name in self._components:
            visit(name, ())
        return done

    def dependencies(self, name: str) -> set[str]:
        """Everything ``name`` depends on, directly or not."""
        seen: set[str] = set()
        stack = list(self.get(name).depends_on)
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(self._components[dep].depends_on)
        return seen

    def dependents(self, name: str) -> list[str]:
        """Everything that depends on ``name``, directly or not, in dependency order."""
        return [n for n in self.order() if name in self.dependencies(n)]
