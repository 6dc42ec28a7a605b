"""Coordinator start-up: a gRPC server with health checking over CoordinatorService."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.check import check_coordinator
from coordinator.config import CoordinatorConfig, load_coordinator_config
from coordinator.mask_pool import MaskSupply
from coordinator.service import CoordinatorService
from coordinator.servicer import CoordinatorServicer
from coordinator.workspace import Workspace, start_workspace
from runtime.audit import open_audit_log
from runtime.config_file import StartupRefused
from runtime.executor import make_executor
from runtime.executor_spec import LOCAL
from runtime.serving import RunningServer, start_server, wait_for_termination
from runtime.signing import load_signing_key
from runtime.tls import transport_security
from wire.v1 import coordinator_pb2_grpc

SERVICE_NAME = "gongying.v1.Coordinator"


@dataclass
class CoordinatorServer:
    """A running coordinator."""

    config: CoordinatorConfig
    service: CoordinatorService
    running: RunningServer
    workspace: Workspace = field(default_factory=Workspace)  # history, schedules, dashboard

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def address(self) -> str:
        return f"{self.config.listen.rpartition(':')[0]}:{self.port}"

    def stop(self, grace: float = 5.0) -> None:
        self.workspace.stop()
        self.running.stop(grace)
        self.service.close()


def start_coordinator(
    config: CoordinatorConfig,
    listen: str | None = None,
    workspace_options: dict[str, Any] | None = None,
) -> CoordinatorServer:
    """Serve the coordinator on `listen` (default: the config's address), with its history,
    scheduler and dashboard when the config declares them (`workspace_options`: the clock and
    schedule interval of `start_workspace`, for tests).

    Refuses to start without a [tls] table unless `insecure_plaintext` is set; with TLS only
    known parties and the configured `clients` may call (health probes excepted).
    """
    tls = transport_security("coordinator", config.tls, config.insecure_plaintext)
    masks = (
        MaskSupply(config.workers, executor=make_executor(config.executor, config.workers))
        if config.workers > 0 or config.executor != LOCAL
        else None
    )
    signing_key = load_signing_key(config.signing_key) if config.signing_key else None
    audit = (
        open_audit_log(config.audit_log, party="coordinator", signing_key=signing_key)
        if config.audit_log
        else None
    )
    service = CoordinatorService(config, masks, audit)
    running = start_server(
        listen or config.listen,
        lambda server: coordinator_pb2_grpc.add_CoordinatorServicer_to_server(
            CoordinatorServicer(service), server
        ),
        (SERVICE_NAME,),
        tls=tls,
        allowed=config.allowed_callers(),
    )
    try:
        workspace = start_workspace(service, **(workspace_options or {}))
    except BaseException:
        running.stop(0)
        service.close()
        raise
    return CoordinatorServer(config, service, running, workspace)


def serve_coordinator(config_path: Path) -> None:
    """Check the config (`gongying coordinator check`), then serve until SIGTERM/SIGINT.

    Any problem the check finds refuses the start (StartupRefused, one line per problem).
    """
    problems = check_coordinator(config_path)
    if problems:
        raise StartupRefused(problems)
    server = start_coordinator(load_coordinator_config(config_path))
    print(f"coordinator serving on {server.address}", flush=True)
    if server.workspace.dashboard is not None:
        print(f"dashboard on {server.workspace.dashboard.url}", flush=True)

    def close() -> None:
        server.workspace.stop()
        server.service.close()

    wait_for_termination(server.running, close)
