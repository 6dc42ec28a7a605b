"""Node start-up: process pool first, then the gRPC server with health checking."""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from node.check import check_node
from node.config import NodeConfig, load_node_config
from node.governance_files import open_governance
from node.outcome_log import OutcomeLoggingAuditLog
from node.querier_key import load_or_create_key
from node.service import NodeService
from node.servicer import PartyNodeServicer
from runtime.audit import signed_head
from runtime.config_file import ConfigError, StartupRefused
from runtime.executor import CryptoExecutor, make_executor
from runtime.serving import RunningServer, start_server, wait_for_termination
from runtime.tls import transport_security
from wire.v1 import node_pb2_grpc

SERVICE_NAME = "gongying.v1.PartyNode"
REAP_SECONDS = 30.0
log = logging.getLogger(__name__)


@dataclass
class NodeServer:
    """A running node: its service, pool and gRPC server."""

    config: NodeConfig
    service: NodeService
    executor: CryptoExecutor
    running: RunningServer
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def address(self) -> str:
        host = self.config.listen.rpartition(":")[0]
        return f"{host}:{self.port}"

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving, settle and forget every session, close the logs, stop the workers."""
        self._stopping.set()
        self.running.stop(grace)
        self.service.close_all()
        self.service.governance.close()
        self.executor.shutdown()

    def start_reaper(self, every: float = REAP_SECONDS) -> None:
        """Expire idle sessions (dropping their keys, logging them as failed) in the background."""

        def reap() -> None:
            while not self._stopping.wait(every):
                self.service.sessions.expire()

        threading.Thread(target=reap, name="session-reaper", daemon=True).start()


def start_node(config: NodeConfig, listen: str | None = None) -> NodeServer:
    """Create the executor (before any gRPC thread exists in this role), then serve.

    The executor is a local spawn pool of `workers` processes, or a Dask cluster
    (`executor = "dask://HOST:PORT"`).

    Refuses to start without a [tls] table unless `insecure_plaintext` is set; with TLS only
    the coordinator's identity may call (health probes excepted).
    """
    tls = transport_security(f"node {config.party}", config.tls, config.insecure_plaintext)
    if config.policy is None and not config.insecure_no_policy:
        raise ConfigError(
            f'node {config.party}: no policy; set policy = "policy.toml" in its config '
            f"(or insecure_no_policy = true for a throwaway local test)"
        )
    if config.insecure_no_policy:
        print(
            f"WARNING: node {config.party} runs WITHOUT A POLICY (insecure_no_policy): "
            "every query from the coordinator is answered unchecked",
            file=sys.stderr,
            flush=True,
        )
    governance = open_governance(config)
    signed_head(governance.audit)  # sign what start-up logged (interrupted queries) before serving
    if governance.audit is not None:
        governance.audit = OutcomeLoggingAuditLog(governance.audit)
    executor = make_executor(config.executor, config.workers)
    querier_key = (
        load_or_create_key(config.paillier_key_file, config.paillier_bits)
        if config.paillier_key_file
        else None
    )
    service = NodeService(config, executor, querier_key=querier_key, governance=governance)
    running = start_server(
        listen or config.listen,
        lambda server: node_pb2_grpc.add_PartyNodeServicer_to_server(
            PartyNodeServicer(service), server
        ),
        (SERVICE_NAME,),
        tls=tls,
        allowed=(config.coordinator_identity,),
    )
    node = NodeServer(config, service, executor, running)
    node.start_reaper()
    return node


def serve_node(config_path: Path) -> None:
    """Check the config (`gongying node check`), then run the node until SIGTERM/SIGINT.

    Any problem the check finds refuses the start (StartupRefused, one line per problem).
    """
    problems = check_node(config_path)
    if problems:
        raise StartupRefused(problems)
    config = load_node_config(config_path)
    node = start_node(config)
    # the owner's own log names the real location; other parties only ever see the label
    log.info(
        "node %s serving on %s; source %r is %s",
        config.party,
        node.address,
        config.source.describe(),
        config.source.location(),
    )
    print(f"node {config.party} serving on {node.address}", flush=True)

    def release() -> None:
        node.service.close_all()
        node.service.governance.close()
        node.executor.shutdown()

    wait_for_termination(node.running, release)
