"""WatchQuery over real gRPC on loopback: progress of overlap and profile queries."""

from __future__ import annotations

import itertools
import threading
import uuid

import grpc
import pytest

from client.sdk import CoordinatorClient, QueryError
from coordinator.server import CoordinatorServer
from gongying.demo_data import RETAILERS
from gongying.demo_profile import ATTRIBUTES
from model.progress import (
    AGGREGATION,
    DECRYPTION,
    INDICATORS,
    MASKS,
    OPEN,
    OVERLAP_STEPS,
    PER_MILLE,
    PROFILE_STEPS,
    ROUTING,
    QueryProgress,
)
from runtime.serving import channel
from tests.progress.conftest import PARTIES
from wire.v1 import coordinator_pb2, coordinator_pb2_grpc

pytestmark = pytest.mark.slow  # deploys nodes and a coordinator over gRPC


def _check_monotonic(updates: list[QueryProgress]) -> None:
    for before, after in itertools.pairwise(updates):
        assert [s.name for s in before.steps] == [s.name for s in after.steps]
        for a, b in zip(before.steps, after.steps, strict=True):
            assert b.done >= a.done, (a, b)
    assert [u.finished for u in updates] == [False] * (len(updates) - 1) + [True]


def test_overlap_progress_over_grpc(coordinator: CoordinatorServer) -> None:
    updates: list[QueryProgress] = []
    with CoordinatorClient(coordinator.address) as client:
        result = client.overlap(PARTIES, on_progress=updates.append)
    assert updates, "no progress arrived"
    _check_monotonic(updates)
    last = updates[-1]
    assert last.query_id == result.query_id and last.finished and not last.failed
    assert [s.name for s in last.steps] == list(OVERLAP_STEPS)
    assert last.step(OPEN).done == last.step(OPEN).total == len(PARTIES)  # type: ignore[union-attr]
    routing = last.step(ROUTING)
    assert routing is not None
    # routing follows the parties' set sizes: a watcher sees thousandths, never the counts
    assert routing.total == PER_MILLE
    assert routing.done == routing.total
    shares = [u.step(ROUTING).done for u in updates if u.step(ROUTING) is not None]  # type: ignore[union-attr]
    assert all(0 <= share <= PER_MILLE for share in shares)


def test_profile_progress_over_grpc(coordinator: CoordinatorServer) -> None:
    updates: list[QueryProgress] = []
    owners = list(RETAILERS)
    with CoordinatorClient(coordinator.address) as client:
        result = client.profile("brand", owners, list(ATTRIBUTES), on_progress=updates.append)
    assert updates
    _check_monotonic(updates)
    last = updates[-1]
    assert last.query_id == result.query_id and last.finished and not last.failed
    assert [s.name for s in last.steps] == list(PROFILE_STEPS)
    for name in (OPEN, ROUTING, INDICATORS, MASKS, AGGREGATION, DECRYPTION):
        step = last.step(name)
        assert step is not None and step.done == step.total > 0, step
    # one release request at the querier's node carries every owner's aggregate
    assert last.step(DECRYPTION).total == 1  # type: ignore[union-attr]


def test_raw_watch_stream_connected_before_the_query(coordinator: CoordinatorServer) -> None:
    """A watcher that connects first gets the query's updates once it starts."""
    query_id = str(uuid.uuid4())
    with CoordinatorClient(coordinator.address) as client:
        seen: list[QueryProgress] = []
        watcher = threading.Thread(target=lambda: seen.extend(client.watch(query_id, timeout=60)))
        watcher.start()
        result = client.overlap(["brand", "retailer_a"], query_id=query_id)
        watcher.join(timeout=30)
    assert not watcher.is_alive()
    assert seen and seen[-1].finished
    routing = seen[-1].step(ROUTING)
    assert routing is not None and routing.done == routing.total == PER_MILLE
    assert result.query_id == query_id


def test_failed_query_ends_the_watch_as_failed(coordinator: CoordinatorServer) -> None:
    updates: list[QueryProgress] = []
    with CoordinatorClient(coordinator.address) as client, pytest.raises(QueryError):
        client.overlap(["brand", "nobody"], on_progress=updates.append)
    assert updates and updates[-1].finished and updates[-1].failed


def test_watch_of_an_unknown_query_is_not_found(coordinator: CoordinatorServer) -> None:
    stub = coordinator_pb2_grpc.CoordinatorStub(channel(coordinator.address))
    call = stub.WatchQuery(coordinator_pb2.WatchQueryRequest(query_id="no-such-query"), timeout=30)
    with pytest.raises(grpc.RpcError) as raised:
        list(call)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
