"""A node SIGKILLed in the middle of an overlap and of a profile query.

retailer_a runs as a real process; brand, retailer_b and the coordinator run in this process so
their sessions, ledgers and audit logs can be read directly. The querier must get a clear error
naming retailer_a within the query's deadline; nothing is released; the coordinator and the
surviving nodes log the failure under the query id; no budget is charged.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from client.sdk import QueryError
from tests.faults.harness import (
    BRAND,
    RETAILER_A,
    RETAILER_B,
    FaultCluster,
    audit_verify,
    make_cluster,
    wait_until,
)

pytestmark = pytest.mark.slow  # kills, restarts or floods real node processes

SIZE = 4000
DEADLINE = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    running = make_cluster(tmp_path_factory.mktemp("killed"), key_file, size=SIZE)
    try:
        running.start_node(BRAND)
        running.start_node(RETAILER_B)
        running.start_process(RETAILER_A)
        running.start_coordinator(deadline=DEADLINE)
        yield running
    finally:
        running.stop()


def kill_mid_query(
    cluster: FaultCluster, run: Callable[[str], Any], watch: str, after: float
) -> tuple[str, QueryError, float]:
    """Start `run(query_id)`, wait until `watch` holds the query's session plus `after` seconds,
    SIGKILL retailer_a, and return the querier's error and how long the query took."""
    assert cluster.processes is not None
    victim = cluster.processes.processes[RETAILER_A]
    query_id = f"killed-{uuid.uuid4()}"
    sessions = cluster.nodes[watch].service.sessions
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        future = pool.submit(run, query_id)
        wait_until(lambda: query_id in sessions._sessions or future.done(), 30, "the session")
        assert not future.done(), f"the query ended before the kill: {future.exception()}"
        time.sleep(after)
        assert not future.done(), "the query ended before the kill; raise SIZE"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        error = future.exception(timeout=DEADLINE + 10)
        took = time.monotonic() - started
    assert isinstance(error, QueryError), error
    return query_id, error, took


def check_failed_everywhere(cluster: FaultCluster, query_id: str, error: QueryError) -> None:
    assert RETAILER_A in str(error), str(error)
    assert error.code in ("UNAVAILABLE", "CANCELLED", "DEADLINE_EXCEEDED"), error
    wait_until(
        lambda: all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values()),
        10,
        "the surviving nodes to forget the query",
    )
    coordinator = cluster.records("coordinator", query_id)
    assert [r.record.decision for r in coordinator] == ["failed"], coordinator
    assert RETAILER_A in (coordinator[0].record.error or "")
    for party in (BRAND, RETAILER_B):
        kept = cluster.records(party, query_id)
        if party == RETAILER_B and not kept:
            continue  # a profile query does not involve retailer_b
        assert [r.record.decision for r in kept] == ["failed"], (party, kept)
        assert not kept[0].record.released


def restart_victim(cluster: FaultCluster) -> None:
    """retailer_a again (its log verifies) so the next query can run."""
    key = cluster.certs.parties[RETAILER_A].sign_pub
    verified = audit_verify(cluster.audit_path(RETAILER_A), key, unsigned_tail=1)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    cluster.start_process(RETAILER_A)


def test_node_killed_mid_overlap(cluster: FaultCluster) -> None:
    before = cluster.usage(RETAILER_B)
    with cluster.client(BRAND) as client:
        query_id, error, took = kill_mid_query(
            cluster,
            lambda q: client.overlap(
                [BRAND, RETAILER_A, RETAILER_B], "email", query_id=q, timeout=DEADLINE
            ),
            watch=RETAILER_B,
            after=0.3,
        )
    assert took < DEADLINE
    check_failed_everywhere(cluster, query_id, error)
    after = cluster.usage(RETAILER_B)  # admitted there: counted whatever happened next
    assert (after.queries_today, after.spent, after.reserved) == (
        before.queries_today + 1,
        before.spent,
        before.reserved,
    )
    restart_victim(cluster)


def test_node_killed_mid_profile(cluster: FaultCluster) -> None:
    if cluster.processes is None or cluster.processes.processes[RETAILER_A].poll() is not None:
        restart_victim(cluster)
    with cluster.client(BRAND) as client:
        query_id, error, took = kill_mid_query(
            cluster,
            lambda q: client.profile(
                BRAND, [RETAILER_A], ["age_band", "spend"], query_id=q, timeout=DEADLINE
            ),
            watch=BRAND,
            after=1.0,
        )
    assert took < DEADLINE
    check_failed_everywhere(cluster, query_id, error)
    restart_victim(cluster)
    # the restarted node answers, and its log holds no release for the killed query
    # at restart it ended every interrupted query and logged it as failed: still counted,
    # nothing charged (exact mode here), nothing held
    victim = cluster.records(RETAILER_A, query_id)
    assert [r.record.decision for r in victim] == ["failed"], victim
    assert "interrupted" in (victim[0].record.error or "")
    # what the query asked, noted at admission, survives the kill (not "(unknown)")
    killed = victim[0].record
    assert (killed.kind, killed.requester) == ("profile", BRAND)
    assert (killed.parties, killed.attributes) == ((BRAND, RETAILER_A), ("age_band", "spend"))
    assert victim[0].record.epsilon == 0.0
    usage = cluster.usage(RETAILER_A)
    assert usage.queries_today >= 1, usage
    assert (usage.spent, usage.reserved) == (0.0, 0.0), usage
    key = cluster.certs.parties[RETAILER_A].sign_pub
    # the restart signed what it recovered; killed mid-settle, the last settle record is not
    verified = audit_verify(cluster.audit_path(RETAILER_A), key, unsigned_tail=1)
    assert verified.returncode == 0, verified.stdout + verified.stderr
