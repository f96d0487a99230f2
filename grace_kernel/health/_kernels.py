"""A kernel watchdog that sees more than jupyter_client's restarter.

jupyter_client's ``KernelRestarter`` polls every ``time_to_dead`` (3 s) and
only asks whether the process exists, so a stopped (``SIGSTOP``) or
deadlocked kernel looks alive to it forever.  :class:`KernelWatchdog` checks,
for each kernel it watches:

- **the process**, every tick (cheap): gone, a zombie (``Z`` in
  ``/proc/PID/stat``) or stopped (``T``) is seen within one tick;
- **an answer**: a ``kernel_info_request`` on the control channel every
  ``probe_every`` seconds.  ipykernel answers control messages on their own
  thread, so a long-running cell is not mistaken for a hung kernel; a kernel
  that does not answer within ``hung_after`` is hung (a deadlock, a C
  extension holding the GIL for good, a stopped process inside a sandbox).

A dead or hung kernel is restarted (``restart_kernel(now=True)``: kill, then
start with the same connection info) with exponential backoff and jitter, and
at most ``max_restarts`` in ``period`` seconds; past that it is given up on
and reported ``failed`` for the supervisor to escalate.  Every detection and
recovery is reported to ``on_event`` with its timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient

from grace_kernel.health._backoff import Backoff, Intensity
from grace_kernel.health._model import CheckResult, Health
from grace_kernel.health._records import append_health_record
from grace_kernel.health._registry import Component
from grace_kernel.health._supervisor import Supervisor
from grace_kernel.ledger import predicate_type_urn

__all__ = ["HEALTH_KERNEL", "KernelEvent", "KernelWatchdog", "ServerKernels", "process_state"]

HEALTH_KERNEL = predicate_type_urn("health-kernel")


def process_state(pid: int | None) -> str:
    """``R``/``S``/``D``... from ``/proc/PID/stat``; ``gone`` when there is no such process."""
    if pid is None:
        return "gone"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    except OSError:
        return "unknown"
    # The command name is in parentheses and may contain spaces: the state follows ")".
    return stat.rsplit(")", 1)[-1].split()[0]


@dataclasses.dataclass(frozen=True)
class KernelEvent:
    """Something the watchdog saw or did: ``dead``, ``hung``, ``restarted``, ``gave-up``."""

    kernel_id: str
    kind: str
    detail: str
    at: float  # time.monotonic()
    since_fault: float | None = None  # seconds from the first bad observation


@dataclasses.dataclass
class _Watched:
    manager: Any  # jupyter_client AsyncKernelManager (or the server's subclass)
    backoff: Backoff
    intensity: Intensity
    client: BlockingKernelClient | None = None
    last_answer: float = 0.0
    probe_sent: float | None = None
    probe_id: str | None = None
    fault_since: float | None = None
    fault: str = ""
    not_before: float = 0.0  # backoff: no restart before this time
    restarting: bool = False
    given_up: bool = False
    restarts: int = 0
    result: CheckResult | None = None


class KernelWatchdog:
    """Watch kernels of one process; call :meth:`tick` often (e.g. every 0.25 s)."""

    def __init__(
        self,
        *,
        hung_after: float = 5.0,
        probe_every: float = 1.0,
        max_restarts: int = 5,
        period: float = 60.0,
        on_event: Callable[[KernelEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < probe_every < hung_after:
            raise ValueError("the probe must run more often than the hung bound")
        self.hung_after, self.probe_every = hung_after, probe_every
        self.max_restarts, self.period = max_restarts, period
        self.on_event = on_event
        self.clock = clock
        self._kernels: dict[str, _Watched] = {}

    # ------------------------------------------------------------------ membership

    def watch(self, kernel_id: str, manager: Any) -> None:
        self._kernels[kernel_id] = _Watched(
            manager=manager,
            backoff=Backoff(base=0.2, cap=10.0),
            intensity=Intensity(max_restarts=self.max_restarts, period=self.period),
            last_answer=self.clock(),
        )

    def unwatch(self, kernel_id: str) -> None:
        watched = self._kernels.pop(kernel_id, None)
        if watched is not None:
            self._close_client(watched)

    @property
    def kernel_ids(self) -> list[str]:
        return list(self._kernels)

    def check(self, kernel_id: str) -> CheckResult:
        """The latest verdict on one kernel (``ok`` until something was seen)."""
        watched = self._kernels.get(kernel_id)
        name = f"kernel:{kernel_id}"
        if watched is None:
            return CheckResult(component=name, health=Health.FAILED, detail="not watched")
        return watched.result or CheckResult(component=name, health=Health.OK, detail="watching")

    # ------------------------------------------------------------------ the loop

    async def tick(self) -> None:
        """Observe every kernel once; restart the dead and the hung (within the limits)."""
        await asyncio.gather(*(self._tick_one(k, w) for k, w in list(self._kernels.items())))

    async def _tick_one(self, kernel_id: str, watched: _Watched) -> None:
        if watched.restarting or watched.given_up:
            return
        if getattr(watched.manager, "shutting_down", False):
            return  # being shut down on purpose: its process going away is no fault
        now = self.clock()
        fault = self._observe(watched, now)
        if fault is None:
            self._healthy(kernel_id, watched)
            return
        if watched.fault_since is None:
            watched.fault_since, watched.fault = now, fault
            kind = "dead" if fault.startswith("dead") else "hung"
            self._emit(KernelEvent(kernel_id, kind, fault, now, 0.0))
        self._set(kernel_id, watched, Health.FAILED, fault)
        if now >= watched.not_before:
            await self._restart(kernel_id, watched, now)

    def _observe(self, watched: _Watched, now: float) -> str | None:
        """What is wrong with the kernel now, or None."""
        provisioner = getattr(watched.manager, "provisioner", None)
        state = process_state(getattr(provisioner, "pid", None))
        if state in ("gone", "Z", "X"):
            return f"dead: the kernel process is {'a zombie' if state == 'Z' else 'gone'}"
        if state == "T":
            return "hung: the kernel process is stopped (SIGSTOP)"
        self._probe(watched, now)
        if now - watched.last_answer > self.hung_after:
            silent = now - watched.last_answer
            return f"hung: no answer to kernel_info for {silent:.1f} s"
        return None

    def _healthy(self, kernel_id: str, watched: _Watched) -> None:
        watched.fault_since = None
        self._set(kernel_id, watched, Health.OK, "alive and answering")

    @staticmethod
    def _set(kernel_id: str, watched: _Watched, health: Health, detail: str) -> None:
        watched.result = CheckResult(
            component=f"kernel:{kernel_id}", health=health, detail=detail, at=time.time()
        )

    # ------------------------------------------------------------------ the probe

    def _ensure_client(self, watched: _Watched) -> BlockingKernelClient:
        """A blocking client of our own: its sockets can be polled without waiting."""
        if watched.client is None:
            client = BlockingKernelClient()
            client.load_connection_info(watched.manager.get_connection_info())
            client.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
            watched.client = client
        return watched.client

    def _probe(self, watched: _Watched, now: float) -> None:
        """Collect the answer to the outstanding probe; send the next one when due."""
        client = self._ensure_client(watched)
        socket = client.control_channel.socket
        while socket is not None and socket.poll(0):
            _, reply = client.session.recv(socket, mode=0)
            if reply and reply.get("parent_header", {}).get("msg_id") == watched.probe_id:
                watched.last_answer = now
                watched.probe_id = None
        # One probe at a time: an unanswered one keeps waiting (a late answer counts).
        if watched.probe_id is None and (
            watched.probe_sent is None or now - watched.probe_sent >= self.probe_every
        ):
            msg = client.session.msg("kernel_info_request")
            client.control_channel.send(msg)
            watched.probe_id = msg["header"]["msg_id"]
            watched.probe_sent = now

    def _close_client(self, watched: _Watched) -> None:
        if watched.client is not None:
            with contextlib.suppress(Exception):
                watched.client.stop_channels()
            watched.client = None
        watched.probe_sent = watched.probe_id = None

    # ------------------------------------------------------------------ healing

    async def _restart(self, kernel_id: str, watched: _Watched, now: float) -> None:
        if not watched.intensity.allow(now):
            watched.given_up = True
            detail = (
                f"gave up: more than {self.max_restarts} restarts in {self.period:g} s "
                f"({watched.fault})"
            )
            self._set(kernel_id, watched, Health.FAILED, detail)
            self._emit(
                KernelEvent(kernel_id, "gave-up", detail, now, now - (watched.fault_since or now))
            )
            return
        watched.restarting = True
        self._close_client(watched)
        try:
            await watched.manager.restart_kernel(now=True)
        except Exception as exc:  # a failed restart is retried after the backoff
            watched.not_before = self.clock() + watched.backoff.next()
            self._set(kernel_id, watched, Health.FAILED, f"restart failed: {exc}")
            return
        finally:
            watched.restarting = False
        done = self.clock()
        watched.restarts += 1
        watched.not_before = done + watched.backoff.next()
        watched.last_answer = done
        since = done - (watched.fault_since or done)
        self._emit(KernelEvent(kernel_id, "restarted", watched.fault, done, since))
        watched.fault_since = None
        self._set(kernel_id, watched, Health.OK, f"restarted after: {watched.fault}")

    async def replace(self, kernel_id: str, prepare: Callable[[Any], Awaitable[None]]) -> None:
        """Restart one kernel on purpose, after ``await prepare(manager)`` (e.g. a new spec).

        The watchdog stands aside meanwhile (the restart is no fault) and starts
        probing the new process afresh.  Raises what the restart raises.
        """
        watched = self._kernels[kernel_id]
        watched.restarting = True
        self._close_client(watched)
        try:
            await prepare(watched.manager)
            await watched.manager.restart_kernel(now=True)
        finally:
            watched.restarting = False
            watched.last_answer = self.clock()
            watched.fault_since = None

    def _emit(self, event: KernelEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def close(self) -> None:
        for watched in self._kernels.values():
            self._close_client(watched)
        self._kernels.clear()


class ServerKernels:
    """The watchdog over a Jupyter server's kernels, wired into the supervisor.

    Each running kernel is the component ``kernel:<id>`` (its check is the
    watchdog's latest verdict; the watchdog restarts it, so the component has
    no restart of its own).  jupyter_client's own restarter is switched off
    for watched kernels: two healers racing for one dead kernel would start
    two processes.  Every detection, restart and give-up is a signed
    ``health-kernel`` record with its timing; a kernel given up on stays
    ``failed`` and the supervisor moves Grace to ``degraded``.
    """

    def __init__(self, kernel_manager: Any, supervisor: Supervisor, log: Any = None) -> None:
        self.kernel_manager, self.supervisor, self.log = kernel_manager, supervisor, log
        self.dog = KernelWatchdog(on_event=self._on_event)

    def _sync(self) -> None:
        running = set(self.kernel_manager.list_kernel_ids())
        registry = self.supervisor.registry
        for kernel_id in running - set(self.dog.kernel_ids):
            manager = self.kernel_manager.get_kernel(kernel_id)
            # One healer per kernel: jupyter_client's restarter, racing the watchdog
            # for a dead kernel, would start a second process and orphan one.
            manager.stop_restarter()  # first: stop_restarter() does nothing once autorestart is off
            manager.autorestart = False
            self.dog.watch(kernel_id, manager)
            check = functools.partial(self.dog.check, kernel_id)
            registry.add(Component(f"kernel:{kernel_id}", check))
        for kernel_id in set(self.dog.kernel_ids) - running:
            self.dog.unwatch(kernel_id)
            registry.remove(f"kernel:{kernel_id}")

    async def tick(self) -> None:
        """Follow kernels started and shut down, then one watchdog round."""
        self._sync()
        await self.dog.tick()

    def _on_event(self, event: KernelEvent) -> None:
        if self.log is not None:
            self.log.warning(
                "Grace kernel watchdog: %s %s: %s", event.kind, event.kernel_id, event.detail
            )
        component = f"kernel:{event.kernel_id}"
        if event.kind in ("dead", "hung", "gave-up"):
            self.supervisor.observe(
                CheckResult(component=component, health=Health.FAILED, detail=event.detail)
            )
        elif event.kind == "restarted":
            action = {"component": component, "action": "restart", "detail": event.detail}
            self.supervisor.observe(
                CheckResult(
                    component=component, health=Health.OK, detail=f"restarted after: {event.detail}"
                ),
                actions=[{**action, "seconds_since_fault": event.since_fault}],
            )
        if event.kind == "restarted":
            self.tell_frontends(event.kernel_id, "restart")
        elif event.kind == "gave-up":
            self.tell_frontends(event.kernel_id, "dead")
        predicate = {
            "kernel_id": event.kernel_id,
            "event": event.kind,
            "detail": event.detail,
            "seconds_since_fault": None
            if event.since_fault is None
            else round(event.since_fault, 3),
        }
        workspace = self.supervisor.workspace
        if workspace is None:
            return
        try:
            subject = f"kernel:{event.kernel_id}"
            append_health_record(workspace.ledger, HEALTH_KERNEL, subject, predicate)
        except Exception as exc:  # the store may be the thing that is down: say so, go on
            if self.log is not None:
                self.log.error("Grace kernel watchdog: cannot record %s: %s", event.kind, exc)

    def tell_frontends(self, kernel_id: str, event: str) -> None:
        """Fire the kernel's ``restart`` or ``dead`` callbacks, as jupyter_client's restarter would.

        jupyter_server's websocket connections register there and answer with a
        ``restarting`` (or ``dead``) status; JupyterLab then reconnects, which
        is also how its sockets find a kernel whose connection changed.  The
        restarter itself is stopped (one healer per kernel), so the watchdog
        fires them.  Couples to ``KernelManager._restarter``: jupyter_client
        has no public accessor for the registered callbacks.
        """
        try:
            manager = self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            return
        restarter = getattr(manager, "_restarter", None)
        callbacks = getattr(restarter, "callbacks", None) or {}
        for callback in list(callbacks.get(event, [])):
            try:
                callback()
            except Exception as exc:  # one broken listener must not stop the others
                if self.log is not None:
                    self.log.error("Grace kernel watchdog: %s callback failed: %s", event, exc)

    async def isolate(self, kernel_id: str, kernel_name: str) -> None:
        """Restart a running kernel under another kernelspec (the sandboxed one)."""

        async def switch(manager: Any) -> None:
            # jupyter_client keeps a kernel's provisioner across restarts: stop the kernel,
            # drop its provisioner and connection file, and the restart below builds new
            # ones from the new kernelspec (jupyter_client reloads it when the name changes).
            await manager.shutdown_kernel(now=True, restart=True)
            manager.cleanup_connection_file()
            manager.provisioner = None
            manager.kernel_name = kernel_name

        await self.dog.replace(kernel_id, switch)
        self.tell_frontends(kernel_id, "restart")

    def close(self) -> None:
        self.dog.close()
