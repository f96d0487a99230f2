"""Loading the server extension (the one edge here that reads the environment)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from tornado.ioloop import PeriodicCallback

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError
from grace_kernel.events import (
    AlertChanged,
    ApprovalChanged,
    CheckpointWritten,
    DecisionBlocked,
    Event,
    GuardBlocked,
    HealthChanged,
    KernelSandboxed,
    PolicyReloadFailed,
    schema_path,
)
from grace_kernel.health import BurstAction, BurstDetector
from grace_kernel.health._kernels import ServerKernels
from grace_kernel.server._connection import GraceWebsocketConnection
from grace_kernel.server._containment import Containment
from grace_kernel.server._handlers import register
from grace_kernel.server._sandboxing import GraceServer, SandboxMode, start_placed
from grace_kernel.server._service import HOLD_CHECK_S, ServerService
from grace_kernel.workspace import Workspace

__all__ = ["load"]

HOLD_CHECK_MS = int(HOLD_CHECK_S * 1000)
HEALTH_TICK_MS = 1000  # store failure to safe mode within ~1 s (target 2 s)
KERNEL_TICK_MS = 250  # the kernel watchdog: a dead kernel is seen within a tick
EVENT_KINDS: tuple[type[Event], ...] = (
    AlertChanged,
    CheckpointWritten,
    DecisionBlocked,
    ApprovalChanged,
    GuardBlocked,
    PolicyReloadFailed,
    KernelSandboxed,
    HealthChanged,
)


def load(serverapp: Any) -> None:
    # Installed first, so that even a failed load below refuses cells (fail closed).
    serverapp.web_app.settings["kernel_websocket_connection_class"] = GraceWebsocketConnection
    # The server's own cleanup calls close_all() on this class: Grace closes with it.
    serverapp.kernel_websocket_connection_class = GraceWebsocketConnection
    _supervise_kernels(serverapp)
    register(serverapp)  # the REST API answers 503 until (unless) the service below exists
    try:
        grace = Settings.from_env(os.environ, cwd=Path(serverapp.root_dir))
        service = ServerService(Workspace.open(grace, create=True))
    except GraceError as exc:
        serverapp.log.error("Grace could not start; every cell will be refused: %s", exc)
        return
    _forward_events(serverapp.event_logger, service)
    service.checker = PeriodicCallback(service.check_holds, HOLD_CHECK_MS)
    service.checker.start()
    service.health_ticker = PeriodicCallback(service.tick_health, HEALTH_TICK_MS)
    service.health_ticker.start()
    service.kernels = ServerKernels(serverapp.kernel_manager, service.supervisor, serverapp.log)
    options = GraceServer(parent=serverapp)
    service.containment = Containment(
        serverapp,
        service,
        action=BurstAction(options.burst_action),
        triggers=[BurstDetector(threshold=options.burst_threshold, window=options.burst_window)],
    )
    service.kernel_ticker = PeriodicCallback(service.kernels.tick, KERNEL_TICK_MS)
    service.kernel_ticker.start()
    serverapp.web_app.settings["grace_service"] = service
    GraceWebsocketConnection.services.append(service)
    serverapp.log.info("Grace governs kernels; workspace %s", grace.home)


def _forward_events(event_logger: Any, service: ServerService) -> None:
    """Grace's events go out on Jupyter's event bus (``/api/events/subscribe``) too."""
    for kind in EVENT_KINDS:
        event_logger.register_event_schema(schema_path(kind))

        def emit(event: Event, schema_id: str = kind.SCHEMA_ID) -> None:
            event_logger.emit(schema_id=schema_id, data=event.to_json())

        service.workspace.events.subscribe(kind, emit)


def _supervise_kernels(serverapp: Any) -> None:
    """Kernels this server starts are supervised (they check again but never sign) and,
    when ``c.GraceServer.sandbox_kernels`` says so, sandboxed (see ``_sandboxing``)."""
    kernel_manager = serverapp.kernel_manager
    options = GraceServer(parent=serverapp)
    start = kernel_manager.start_kernel

    async def start_kernel(**kwargs: Any) -> Any:
        kwargs["env"] = {**os.environ, **(kwargs.get("env") or {}), "GRACE_SUPERVISOR": "server"}
        service = serverapp.web_app.settings.get("grace_service")
        if not isinstance(service, ServerService) or kwargs.get("kernel_id") in kernel_manager:
            return await start(**kwargs)  # no workspace: every cell is refused anyway
        mode = cast(SandboxMode, options.sandbox_kernels)
        return await start_placed(serverapp, service, mode, start, **kwargs)

    kernel_manager.start_kernel = start_kernel
