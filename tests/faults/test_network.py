"""A stalled peer and a cut stream (a TCP proxy between the coordinator and retailer_a),
deadlines on every call, and cancellation by the querier."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from client.sdk import QueryError
from node.sessions import DEFAULT_IDLE_SECONDS
from tests.faults.harness import (
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    FaultCluster,
    make_cluster,
    rpc_code,
    wait_until,
)
from tests.faults.proxy import Proxy
from wire.v1 import coordinator_pb2

pytestmark = pytest.mark.slow  # kills, restarts or floods real node processes

SIZE = 3000
ALL = [BRAND, RETAILER_A, RETAILER_B]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    running = make_cluster(tmp_path_factory.mktemp("network"), key_file, size=SIZE)
    try:
        for party in PARTIES:
            running.start_node(party)
        yield running
    finally:
        running.stop()


@pytest.fixture
def proxied(
    base: FaultCluster, request: pytest.FixtureRequest
) -> Iterator[tuple[FaultCluster, Proxy]]:
    """The nodes, a coordinator reaching retailer_a through a proxy in the given mode."""
    mode, trigger = request.param
    host, port = base.nodes[RETAILER_A].address.rsplit(":", 1)
    proxy = Proxy((host, int(port)), mode=mode, trigger=trigger)
    base.start_coordinator(deadline=60.0, parties={RETAILER_A: proxy.address})
    try:
        yield base, proxy
    finally:
        proxy.close()
        assert base.server is not None
        base.server.stop(grace=1.0)
        base.server = None
    expire_idle(base)


def expire_idle(cluster: FaultCluster, idle: float = 1.0) -> None:
    """Sessions the coordinator could not close (the path to the node is stalled or cut)
    expire: with a short idle time every node is empty again (as the reaper does it)."""
    try:
        for node in cluster.nodes.values():
            node.service.sessions.idle_seconds = idle

        def empty() -> bool:
            for node in cluster.nodes.values():
                node.service.sessions.expire()
            return all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values())

        wait_until(empty, 15, "every node to forget the query", every=0.2)
    finally:
        for node in cluster.nodes.values():
            node.service.sessions.idle_seconds = DEFAULT_IDLE_SECONDS


STREAMING = 40_000  # bytes back from retailer_a: past OpenSession, inside its point stream


@pytest.mark.parametrize("proxied", [("stall", STREAMING)], indirect=True)
def test_stalled_peer(proxied: tuple[FaultCluster, Proxy]) -> None:
    cluster, proxy = proxied
    started = time.monotonic()
    with cluster.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.overlap(ALL, "email", timeout=8)
    took = time.monotonic() - started
    assert proxy.tripped.is_set()
    assert took < 12
    error = caught.value
    assert error.code == "DEADLINE_EXCEEDED", error
    assert "deadline" in str(error)


@pytest.mark.parametrize("proxied", [("cut", STREAMING)], indirect=True)
def test_cut_stream(proxied: tuple[FaultCluster, Proxy]) -> None:
    cluster, proxy = proxied
    with cluster.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.overlap(ALL, "email", timeout=10)
    assert proxy.tripped.is_set()
    error = caught.value
    assert error.code in ("UNAVAILABLE", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED"), error
    assert RETAILER_A in str(error)


@pytest.mark.parametrize("proxied", [("pass", 0)], indirect=True)
def test_client_cancel_stops_every_party(proxied: tuple[FaultCluster, Proxy]) -> None:
    cluster, _ = proxied
    query_id = f"cancel-{uuid.uuid4()}"
    signer = cluster.client(BRAND).signer
    assert signer is not None
    request = coordinator_pb2.OverlapRequest(
        query_id=query_id,
        parties=ALL,
        id_type="email",
        signed=signer.sign(query_id, "overlap", ALL, "email"),
    )
    future = cluster.coordinator_stub(BRAND).RunOverlap.future(request, timeout=60)
    sessions = cluster.nodes[RETAILER_B].service.sessions
    wait_until(lambda: query_id in sessions._sessions or future.done(), 30, "the query to start")
    assert not future.done()
    future.cancel()
    with pytest.raises(grpc.FutureCancelledError):
        future.result()
    wait_until(
        lambda: all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values()),
        10,
        "every node to drop the cancelled query's session",
    )
    # nothing was released: every party logged the query as failed
    wait_until(lambda: bool(cluster.records("coordinator", query_id)), 10, "the coordinator log")
    for party in ("coordinator", *ALL):
        decisions = [r.record.decision for r in cluster.records(party, query_id)]
        assert decisions == ["failed"], (party, decisions)
    _ = rpc_code
