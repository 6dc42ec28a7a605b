"""Mistakes that need a running party: a port another node holds, a plaintext query to a TLS
coordinator; and the coordinator's own config check. One node and one coordinator process are
started for the whole module (`gongying ... serve`, as an operator starts them)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gongying.launch import free_port, wait_healthy
from runtime.serving import channel, start_server
from runtime.tls import TLSFiles
from tests.usability.conftest import GONGYING, REPO, Shared, assert_refused, gongying, write_node

pytestmark = pytest.mark.slow  # the gongying command as subprocesses


@dataclass(frozen=True)
class Running:
    """A serving node and coordinator, each a `gongying ... serve` process."""

    node: str
    coordinator: str
    node_log: Path


def _serve(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([str(GONGYING), *args], stdout=out, stderr=out, cwd=REPO)


@pytest.fixture(scope="module")
def running(shared: Shared, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("running")
    node = f"127.0.0.1:{free_port()}"
    coordinator = f"127.0.0.1:{free_port()}"
    node_config = write_node(root / "node", shared.node_text(listen=node), shared.policy_text())
    coordinator_config = root / "coordinator.toml"
    coordinator_config.write_text(shared.coordinator_text(listen=coordinator))
    processes = [
        _serve(["node", "serve", "--config", str(node_config)], root / "node.log"),
        _serve(["coordinator", "serve", "--config", str(coordinator_config)], root / "c.log"),
    ]
    probe = TLSFiles(shared.certs.ca, *shared.cert("brand"))
    try:
        wait_healthy(node, 60, processes[0], probe, "retailer")
        wait_healthy(coordinator, 60, processes[1], probe, "coordinator")
        yield Running(node, coordinator, root / "node.log")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)


def test_a_port_another_node_serves_on(shared: Shared, running: Running, tmp_path: Path) -> None:
    text = shared.node_text(party="brand", listen=running.node)
    path = write_node(tmp_path, text, shared.policy_text())
    port = running.node.rpartition(":")[2]
    expected = f"{path}.listen: port {port} is already in use by another process"
    assert_refused(gongying("node", "check", "--config", str(path)), expected)
    serve = gongying("node", "serve", "--config", str(path))
    assert_refused(serve, expected)
    assert "serving" not in serve.stdout


def test_a_coordinator_on_a_taken_port(shared: Shared, running: Running, tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(shared.coordinator_text(listen=running.coordinator))
    assert_refused(gongying("coordinator", "check", "--config", str(path)), f"{path}.listen: port")


def test_grpc_servers_do_not_share_a_port() -> None:
    """Without port sharing a second server on a taken port fails instead of splitting calls."""
    first = start_server("127.0.0.1:0", lambda server: None, ())
    try:
        with pytest.raises(OSError, match="already in use"):
            start_server(f"127.0.0.1:{first.port}", lambda server: None, ())
    finally:
        first.stop(0)


def test_a_plaintext_query_to_a_tls_coordinator(running: Running) -> None:
    outcome = gongying(
        "query", "overlap", "--coordinator", running.coordinator, "--parties", "brand,retailer"
    )
    line = assert_refused(
        outcome, f"the coordinator at {running.coordinator} requires mutual TLS: pass --ca, --cert"
    )
    assert "Socket closed" not in outcome.stderr, line
    assert outcome.code == 2
    assert outcome.stderr.splitlines() == [line]  # no gRPC log lines around it


def test_a_query_to_nothing_is_not_told_to_use_tls() -> None:
    address = f"127.0.0.1:{free_port()}"
    outcome = gongying("query", "overlap", "--coordinator", address, "--parties", "a,b")
    assert_refused(outcome, f"coordinator at {address} is unreachable")
    assert "mutual TLS" not in outcome.stderr


def test_the_node_logs_where_its_source_is_for_its_owner(shared: Shared, running: Running) -> None:
    log = running.node_log.read_text()
    assert f"source 'crm' is sql sqlite:///{shared.database} table members" in log


def test_coordinator_check_accepts_a_correct_config(shared: Shared, tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(shared.coordinator_text())
    outcome = gongying("coordinator", "check", "--config", str(path))
    assert outcome.code == 0, outcome.stderr
    assert f"coordinator config {path}: ready to serve" in outcome.stderr


@pytest.mark.parametrize(
    ("right", "wrong", "expected"),
    [
        ("workers = 0", "worker = 0", ": unknown key 'worker'; did you mean 'workers'?"),
        ("audit_log = ", "audit_lg = ", ": unknown key 'audit_lg'; did you mean 'audit_log'?"),
        ('ca = "', 'cacert = "', " [tls]: unknown key 'cacert'; did you mean 'cert'?"),
    ],
)
def test_coordinator_check_refuses_unknown_keys(
    shared: Shared, tmp_path: Path, right: str, wrong: str, expected: str
) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(shared.coordinator_text().replace(right, wrong, 1))
    assert_refused(gongying("coordinator", "check", "--config", str(path)), f"{path}{expected}")
    serve = gongying("coordinator", "serve", "--config", str(path))
    assert_refused(serve, f"{path}{expected}")


def test_coordinator_with_a_mismatched_key_and_postgres_audit_url(
    shared: Shared, tmp_path: Path
) -> None:
    brand_key = str(shared.certs.parties["brand"].key)
    text = shared.coordinator_text().replace(
        f'key = "{shared.certs.parties["coordinator"].key}"', f'key = "{brand_key}"'
    )
    path = tmp_path / "coordinator.toml"
    path.write_text(text)
    outcome = gongying("coordinator", "check", "--config", str(path))
    assert_refused(outcome, f"{path} [tls].key: {brand_key} is not the private key of certificate")
    assert "Failed to bind" not in outcome.stderr
    path.write_text(
        shared.coordinator_text().replace(
            'audit_log = "coordinator.audit.db"', 'audit_log = "postgres://gy@db:5432/audit"'
        )
    )
    assert_refused(
        gongying("coordinator", "serve", "--config", str(path)),
        f"{path}.audit_log: postgres://",
        "postgresql+psycopg://",
    )


def test_workers_exit_when_their_node_is_killed(shared: Shared, tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    text = shared.node_text(listen=listen).replace("workers = 1", "workers = 2")
    path = write_node(tmp_path, text, shared.policy_text())
    node = _serve(["node", "serve", "--config", str(path)], tmp_path / "node.log")
    try:
        probe = TLSFiles(shared.certs.ca, *shared.cert("brand"))
        wait_healthy(listen, 60, node, probe, "retailer")
        children = subprocess.run(
            ["pgrep", "-P", str(node.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert len(children) >= 2, children  # the two workers (and multiprocessing's tracker)
    finally:
        node.kill()
        node.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{c}") for c in children):
        time.sleep(0.2)
    assert not [c for c in children if os.path.exists(f"/proc/{c}")], "orphaned workers"


def test_a_restarted_peer_is_reached_within_a_second(shared: Shared) -> None:
    """After a peer was down for a while, calls reach it again within about a second of its
    restart (gRPC's default reconnect backoff had grown to several seconds by then)."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    tls = TLSFiles(shared.certs.ca, *shared.cert("coordinator"))
    with channel(address, TLSFiles(shared.certs.ca, *shared.cert("brand")), "coordinator") as peer:
        health = health_pb2_grpc.HealthStub(peer)
        down_until = time.monotonic() + 6
        while time.monotonic() < down_until:
            with pytest.raises(grpc.RpcError):
                health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            time.sleep(0.3)
        server = start_server(address, lambda server: None, (), tls=tls, allowed=("brand",))
        restarted = time.monotonic()
        try:
            while True:
                try:
                    health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    break
                except grpc.RpcError:
                    time.sleep(0.05)
            assert time.monotonic() - restarted < 1.6
        finally:
            server.stop(0)
