"""Load: 20 concurrent overlap queries across three in-process nodes, and idle sessions expiring.

Every query returns the oracle's counts for its parties; while they run, the nodes hold several
sessions at once, each with its own key; afterwards no session is open. A session nobody closes
expires once idle (the reaper's `expire()`), its key is wiped and the failure is audited.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectors.identifiers import NormalisationProfile
from model.results import OverlapResult
from node.sessions import DEFAULT_IDLE_SECONDS, QuerySession
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
from wire.v1 import node_pb2

pytestmark = pytest.mark.slow  # kills, restarts or floods real node processes

SIZE = 150
QUERIES = 20
SHAPES = [
    [BRAND, RETAILER_A, RETAILER_B],
    [BRAND, RETAILER_A],
    [BRAND, RETAILER_B],
    [RETAILER_A, BRAND, RETAILER_B],  # (retailer_a x retailer_b alone: third parties', refused)
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    running = make_cluster(tmp_path_factory.mktemp("load"), key_file, size=SIZE)
    try:
        for party in PARTIES:
            running.start_node(party)
        running.start_coordinator(deadline=120.0)
        yield running
    finally:
        running.stop()


class Watcher:
    """Samples a node's open sessions: how many at once, and each query's key."""

    def __init__(self, cluster: FaultCluster, party: str) -> None:
        self.store = cluster.nodes[party].service.sessions
        self.most = 0
        self.keys: dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            with self.store._lock:
                sessions = list(self.store._sessions.values())
            self.most = max(self.most, len(sessions))
            for session in sessions:
                with contextlib.suppress(KeyForgotten):
                    self.keys.setdefault(session.query_id, session.psi.key.scalar)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_twenty_concurrent_overlaps(cluster: FaultCluster) -> None:
    watcher = Watcher(cluster, RETAILER_A)
    jobs = [(f"load-{i}-{uuid.uuid4()}", SHAPES[i % len(SHAPES)]) for i in range(QUERIES)]

    def run(job: tuple[str, list[str]]) -> tuple[str, list[str], OverlapResult]:
        query_id, parties = job
        with cluster.client(BRAND) as client:
            return query_id, parties, client.overlap(parties, "email", query_id, timeout=120)

    try:
        with ThreadPoolExecutor(QUERIES) as pool:
            done = list(pool.map(run, jobs, timeout=150))
    finally:
        watcher.stop()
    for query_id, parties, result in done:
        expected = truth(cluster.held, parties)
        assert result.query_id == query_id
        assert result.all_parties == expected.all_parties, (parties, result)
        for a, b, count in result.pairwise:
            assert count == expected.pair(a, b), (query_id, a, b)
        assert result.set_sizes == {p: expected.sizes[p] for p in parties}
    # several queries were open together at one node, each with its own key
    assert watcher.most > 1, watcher.most
    assert len(set(watcher.keys.values())) == len(watcher.keys) > 1
    wait_until(
        lambda: all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values()),
        10,
        "every session to close",
    )
    for party in PARTIES:
        for query_id, parties in jobs:
            if party in parties:
                kept = [r.record.decision for r in cluster.records(party, query_id)]
                assert kept == ["released"], (party, query_id, kept)


def test_idle_sessions_expire_and_drop_keys(cluster: FaultCluster) -> None:
    """Sessions opened as the coordinator does, then abandoned, expire once idle."""
    signer = cluster.client(BRAND).signer
    assert signer is not None
    parties = [BRAND, RETAILER_A]
    opened: list[tuple[str, QuerySession]] = []
    for _ in range(3):
        query_id = f"idle-{uuid.uuid4()}"
        cluster.node_stub(RETAILER_A).OpenSession(
            node_pb2.OpenSessionRequest(
                query_id=query_id,
                kind=node_pb2.QUERY_KIND_OVERLAP,
                id_type="email",
                profile_version=NormalisationProfile().label(),
                parties=parties,
                role=node_pb2.SESSION_ROLE_MEMBER,
                signed=signer.sign(query_id, "overlap", parties, "email", [], []),
            ),
            timeout=30,
        )
        opened.append((query_id, cluster.nodes[RETAILER_A].service.sessions.get(query_id)))
    store = cluster.nodes[RETAILER_A].service.sessions
    assert store.open_count() == 3
    assert store.expire() == 0  # not idle yet
    store.idle_seconds = 0.2
    try:
        wait_until(lambda: store.expire() >= 0 and store.open_count() == 0, 10, "expiry")
    finally:
        store.idle_seconds = DEFAULT_IDLE_SECONDS
    for query_id, session in opened:
        with pytest.raises(KeyForgotten):
            session.psi.key.scalar  # noqa: B018 - the property raises once the key is wiped
        assert not session.elements
        kept = cluster.records(RETAILER_A, query_id)
        assert [r.record.decision for r in kept] == ["failed"], kept
        assert "expired" in (kept[0].record.error or "")
    usage = cluster.usage(RETAILER_A)
    assert usage.reserved == 0.0, usage


def test_memory_returns_to_its_level_after_bursts(cluster: FaultCluster) -> None:
    """Repeated bursts of 20 queries do not grow the nodes' memory: nothing per query is kept.

    The nodes run in this process, so its resident size is measured after a warm-up burst and
    again after three more; allocator caching makes the first burst the baseline, and a leak of
    even a few KiB per query per party would show over 60 more queries.
    """
    import gc

    import psutil

    process = psutil.Process()

    def burst() -> None:
        jobs = [(f"mem-{i}-{uuid.uuid4()}", SHAPES[i % len(SHAPES)]) for i in range(QUERIES)]

        def run(job: tuple[str, list[str]]) -> OverlapResult:
            query_id, parties = job
            with cluster.client(BRAND) as client:
                return client.overlap(parties, "email", query_id, timeout=120)

        with ThreadPoolExecutor(QUERIES) as pool:
            assert len(list(pool.map(run, jobs, timeout=150))) == QUERIES
        wait_until(
            lambda: all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values()),
            10,
            "every session to close",
        )
        gc.collect()

    burst()
    baseline = process.memory_info().rss
    for _ in range(3):
        burst()
    grown = process.memory_info().rss - baseline
    assert grown < 40 * 1024 * 1024, f"resident memory grew {grown / 2**20:.1f} MiB over 60 queries"
