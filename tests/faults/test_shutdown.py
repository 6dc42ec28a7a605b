"""SIGTERM with a query in flight, and kill -9 while a node writes its audit log.

retailer_a runs as a real process (`gongying node serve`); brand, retailer_b and the coordinator
run in this process. On SIGTERM retailer_a's health turns NOT_SERVING, it exits 0 within the
grace period, the querier's in-flight query completes or fails naming retailer_a, and its audit
log verifies. SIGKILLed while answering a stream of queries and restarted, its log verifies and
every result the querier received has its released record there.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from client.sdk import QueryError
from model.results import OverlapResult
from runtime.serving import GRACE_SECONDS, channel
from tests.faults.harness import (
    BRAND,
    RETAILER_A,
    RETAILER_B,
    FaultCluster,
    audit_verify,
    make_cluster,
    truth,
    wait_until,
)

pytestmark = pytest.mark.slow  # kills, restarts or floods real node processes

SIZE = 4000
DEADLINE = 60.0
ALL = [BRAND, RETAILER_A, RETAILER_B]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    running = make_cluster(tmp_path_factory.mktemp("shutdown"), key_file, size=SIZE)
    try:
        running.start_node(BRAND)
        running.start_node(RETAILER_B)
        running.start_process(RETAILER_A)
        running.start_coordinator(deadline=DEADLINE)
        yield running
    finally:
        running.stop()


def victim(cluster: FaultCluster) -> int:
    assert cluster.processes is not None
    process = cluster.processes.processes[RETAILER_A]
    if process.poll() is not None:
        cluster.start_process(RETAILER_A)
        process = cluster.processes.processes[RETAILER_A]
    return process.pid


def test_sigterm_with_query_in_flight(cluster: FaultCluster) -> None:
    pid = victim(cluster)
    assert cluster.processes is not None
    process = cluster.processes.processes[RETAILER_A]
    health = health_pb2_grpc.HealthStub(channel(cluster.node_address(RETAILER_A)))
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    query_id = f"term-{uuid.uuid4()}"
    sessions = cluster.nodes[RETAILER_B].service.sessions
    with cluster.client(BRAND) as client, ThreadPoolExecutor(1) as pool:
        future = pool.submit(client.overlap, ALL, "email", query_id, DEADLINE)
        wait_until(lambda: query_id in sessions._sessions or future.done(), 30, "the session")
        assert not future.done(), f"the query ended before SIGTERM: {future.exception()}"
        os.kill(pid, signal.SIGTERM)
        termed = time.monotonic()
        statuses = []
        for reply in watch:
            statuses.append(reply.status)
            if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
        watch.cancel()
        assert statuses[-1:] == [health_pb2.HealthCheckResponse.NOT_SERVING], statuses
        assert process.wait(GRACE_SECONDS + 10) == 0
        assert time.monotonic() - termed < GRACE_SECONDS + 5
        error = future.exception(timeout=DEADLINE + 10)
    kept = cluster.records(RETAILER_A, query_id)
    if error is None:  # finished within the grace period: released once, and logged so
        result = future.result()
        assert result.all_parties == truth(cluster.held, ALL).all_parties
        assert [r.record.decision for r in kept] == ["released"], kept
    else:  # cancelled: the querier is told which node, nothing was released there
        assert isinstance(error, QueryError), error
        assert RETAILER_A in str(error), str(error)
        assert [r.record.decision for r in kept] == ["failed"], kept
        assert not kept[0].record.released
        assert "shut down" in (kept[0].record.error or ""), kept[0].record.error
        coordinator = cluster.records("coordinator", query_id)
        assert [r.record.decision for r in coordinator] == ["failed"], coordinator
    key = cluster.certs.parties[RETAILER_A].sign_pub
    verified = audit_verify(cluster.audit_path(RETAILER_A), key)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    usage = cluster.usage(RETAILER_A)
    assert usage.reserved == 0.0, usage
    wait_until(
        lambda: all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values()),
        10,
        "the surviving nodes to forget the query",
    )


def test_kill9_under_queries_then_restart(cluster: FaultCluster) -> None:
    """Queries one after another; SIGKILL retailer_a after two were released; restart."""
    pid = victim(cluster)
    parties = [BRAND, RETAILER_A]
    released: list[str] = []
    failed: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        with cluster.client(BRAND) as client:
            while not stop.is_set():
                query_id = f"kill9-{uuid.uuid4()}"
                try:
                    result: OverlapResult = client.overlap(parties, "email", query_id, 30)
                except QueryError as error:
                    assert RETAILER_A in str(error), str(error)
                    failed.append(query_id)
                    return
                assert result.all_parties == truth(cluster.held, parties).all_parties
                released.append(query_id)

    runner = threading.Thread(target=loop, daemon=True)
    runner.start()
    try:
        wait_until(lambda: len(released) >= 2 or not runner.is_alive(), 60, "two releases")
        assert runner.is_alive(), "the query loop stopped early"
        time.sleep(0.15)  # land somewhere inside the next query, settling included
        os.kill(pid, signal.SIGKILL)
        runner.join(DEADLINE)
    finally:
        stop.set()
    assert not runner.is_alive()
    assert len(failed) == 1, failed
    key = cluster.certs.parties[RETAILER_A].sign_pub
    # killed mid-settle, the last settle record may be unsigned (the restart signs it)
    verified = audit_verify(cluster.audit_path(RETAILER_A), key, unsigned_tail=1)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    victim(cluster)  # restart: recovers what its predecessor admitted but never settled
    verified = audit_verify(cluster.audit_path(RETAILER_A), key)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for query_id in released:
        kept = [r.record.decision for r in cluster.records(RETAILER_A, query_id)]
        assert kept == ["released"], (query_id, kept)
    kept = [r.record.decision for r in cluster.records(RETAILER_A, failed[0])]
    assert kept in ([], ["failed"], ["released"]), kept  # never two records
    usage = cluster.usage(RETAILER_A)
    assert usage.reserved == 0.0, usage
    with cluster.client(BRAND) as client:
        again = client.overlap(parties, "email", f"after-{uuid.uuid4()}", 30)
    assert again.all_parties == truth(cluster.held, parties).all_parties
