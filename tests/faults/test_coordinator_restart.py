"""The coordinator SIGKILLed mid-query and restarted; the querier retries with the same query id.

The three nodes run in this process (their sessions, ledgers and logs are read directly); the
coordinator is a real process. The retry either completes once or fails cleanly; no node charges
the query twice; the sessions of the first attempt go away and their keys are wiped.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from client.sdk import QueryError
from node.sessions import DEFAULT_IDLE_SECONDS, QuerySession, SessionStore
from protocols.psi import KeyForgotten
from tests.faults.harness import (
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    FaultCluster,
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
    running = make_cluster(tmp_path_factory.mktemp("coordinator"), key_file, size=SIZE)
    try:
        for party in PARTIES:
            running.start_node(party)
        running.start_coordinator_process()
        yield running
    finally:
        running.stop()


def expire_idle(cluster: FaultCluster) -> None:
    """What the reaper does, with a short idle time."""
    try:
        for node in cluster.nodes.values():
            node.service.sessions.idle_seconds = 0.5

        def empty() -> bool:
            for node in cluster.nodes.values():
                node.service.sessions.expire()
            return all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values())

        wait_until(empty, 15, "every node to forget the query", every=0.1)
    finally:
        for node in cluster.nodes.values():
            node.service.sessions.idle_seconds = DEFAULT_IDLE_SECONDS


def test_coordinator_killed_and_restarted(cluster: FaultCluster) -> None:
    assert cluster.processes is not None
    before = {p: cluster.usage(p) for p in (RETAILER_A, RETAILER_B)}
    query_id = f"restart-{uuid.uuid4()}"
    store = cluster.nodes[RETAILER_B].service.sessions
    with cluster.client(BRAND) as client, ThreadPoolExecutor(1) as pool:
        future = pool.submit(client.overlap, ALL, "email", query_id, DEADLINE)
        wait_until(lambda: query_id in store._sessions or future.done(), 30, "the session")
        assert not future.done(), f"the query ended before the kill: {future.exception()}"
        first: list[QuerySession] = []
        for node in cluster.nodes.values():

            def holds(store: SessionStore = node.service.sessions) -> bool:
                return query_id in store.query_ids()

            wait_until(holds, 10, "every node's session")
            first.append(node.service.sessions.get(query_id))
        coordinator = cluster.processes.processes["coordinator"]
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(10)
        error = future.exception(timeout=30)
    assert isinstance(error, QueryError), error
    assert error.code in ("UNAVAILABLE", "CANCELLED"), error

    cluster.start_coordinator_process()  # same port; returns once it is healthy
    outcomes: list[object] = []
    with cluster.client(BRAND) as client:
        for _ in range(2):  # while the first attempt's sessions are open, then after they expire
            try:
                outcomes.append(client.overlap(ALL, "email", query_id, DEADLINE))
            except QueryError as failed:
                assert failed.code != "UNKNOWN" and "Traceback" not in str(failed), failed
                outcomes.append(failed)
            expire_idle(cluster)
    completed = [o for o in outcomes if not isinstance(o, QueryError)]
    assert len(completed) <= 1, outcomes
    for result in completed:
        assert getattr(result, "all_parties", None) == truth(cluster.held, ALL).all_parties

    # the first attempt's keys are wiped and nothing is left open or reserved
    for session in first:
        with pytest.raises(KeyForgotten):
            session.psi.key.scalar  # noqa: B018 - the property raises once the key is wiped
    for party in PARTIES:
        assert cluster.nodes[party].service.sessions.open_count() == 0
        decisions = [r.record.decision for r in cluster.records(party, query_id)]
        assert decisions.count("released") == len(completed), (party, decisions)
        if party == BRAND:
            continue  # brand keeps no budget for itself
        usage = cluster.usage(party)
        assert usage.reserved == 0.0, (party, usage)
        # the first attempt was admitted everywhere: it counts, once (a retry with its query id
        # is the same reservation while it is open, and refused once it has ended)
        assert usage.queries_today - before[party].queries_today == 1, (party, usage)
        if not completed:
            assert usage.spent == before[party].spent, (party, usage)
