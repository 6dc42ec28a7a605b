"""Coordinator start-up: a gRPC server with health checking over CoordinatorService."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coordinator.check import check_coordinator
from coordinator.config import CoordinatorConfig, load_coordinator_config
from coordinator.mask_pool import MaskSupply
from coordinator.service import CoordinatorService
from coordinator.servicer import CoordinatorServicer
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

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def address(self) -> str:
        return f"{self.config.listen.rpartition(':')[0]}:{self.port}"

    def stop(self, grace: float = 5.0) -> None:
        self.running.stop(grace)
        self.service.close()


def start_coordinator(config: CoordinatorConfig, listen: str | None = None) -> CoordinatorServer:
    """Serve the coordinator on `listen` (default: the config's address).

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
    return CoordinatorServer(config, service, running)


def serve_coordinator(config_path: Path) -> None:
    """Check the config (`gongying coordinator check`), then serve until SIGTERM/SIGINT.

    Any problem the check finds refuses the start (StartupRefused, one line per problem).
    """
    problems = check_coordinator(config_path)
    if problems:
        raise StartupRefused(problems)
    server = start_coordinator(load_coordinator_config(config_path))
    print(f"coordinator serving on {server.address}", flush=True)
    wait_for_termination(server.running, server.service.close)
