"""The coordinator's workspace beside its gRPC service: the history database, the scheduler and
the health dashboard, each started only when coordinator.toml asks for it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from coordinator.dashboard import DashboardServer
from coordinator.dashboard_data import Collector
from coordinator.history import HistoryStore
from coordinator.scheduler import Clock, Scheduler, utc_now
from coordinator.service import CoordinatorService


@dataclass
class Workspace:
    """What runs beside the coordinator's service (each part None when not configured)."""

    store: HistoryStore | None = None
    scheduler: Scheduler | None = None
    dashboard: DashboardServer | None = None

    def stop(self) -> None:
        if self.dashboard is not None:
            self.dashboard.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.store is not None:
            self.store.close()


def start_workspace(
    service: CoordinatorService, clock: Clock = utc_now, schedule_interval: float | None = 30.0
) -> Workspace:
    """Open the history and start the scheduler on `clock` (every `schedule_interval` s; None:
    tests call `run_due` themselves) and the dashboard, as the service's config declares."""
    config = service.config
    if config.history is None:
        return Workspace()
    workspace = Workspace(HistoryStore(config.history))
    assert workspace.store is not None
    try:
        if config.schedules:
            workspace.scheduler = Scheduler(service, config.schedules, workspace.store, clock)
            if schedule_interval is not None:
                workspace.scheduler.start(schedule_interval)
        if config.dashboard is not None:
            collector = Collector(
                config, config.dashboard, service.nodes, service.audit, workspace.store
            )
            # the dashboard reads real times (audit records), so it keeps the real clock
            workspace.dashboard = DashboardServer(config.dashboard, collector, utc_now)
    except BaseException:
        with contextlib.suppress(Exception):
            workspace.stop()
        raise
    return workspace
