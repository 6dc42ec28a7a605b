"""Hostile input into every RPC of the coordinator: each gets a specific status code with a
message (never UNKNOWN or INTERNAL), within a short timeout, and real queries still work."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from runtime.serving import channel
from tests.faults import hostile
from tests.faults.harness import (
    BRAND,
    RETAILER_A,
    RETAILER_B,
    FaultCluster,
    truth,
)
from tests.faults.hostile import (
    COORDINATOR,
    TIMEOUT,
    garbage,
    refused,
)
from wire import node_serde as codec
from wire.v1 import coordinator_pb2, query_pb2

pytestmark = pytest.mark.slow  # a deployment of node processes under hostile input

cluster = hostile.cluster  # the deployment and its clean-up, shared by both hostile suites
nothing_left_open = hostile.nothing_left_open


@pytest.mark.parametrize("method", ["ListParties", "RunOverlap", "RunProfile"])
def test_coordinator_garbage(cluster: FaultCluster, method: str) -> None:
    with channel(cluster.address) as raw:
        call = raw.unary_unary(COORDINATOR + method)
        for body in garbage():
            refused(lambda body=body: call(body, timeout=TIMEOUT))  # type: ignore[misc]


# -- coordinator ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_, codes",
    [
        (coordinator_pb2.OverlapRequest(parties=[], id_type="email"), ()),
        (coordinator_pb2.OverlapRequest(parties=[BRAND, "nobody"], id_type="email"), ()),
        (coordinator_pb2.OverlapRequest(parties=[BRAND, BRAND], id_type="email"), ()),
        (coordinator_pb2.OverlapRequest(parties=[BRAND, RETAILER_A], id_type=""), ()),
        (
            coordinator_pb2.OverlapRequest(parties=[BRAND, RETAILER_A], id_type="email"),
            (grpc.StatusCode.PERMISSION_DENIED,),  # not signed
        ),
        (
            coordinator_pb2.OverlapRequest(
                query_id="q" * 300, parties=[BRAND, RETAILER_A], id_type="email"
            ),
            (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT),
        ),
        (
            coordinator_pb2.OverlapRequest(
                parties=[BRAND, RETAILER_A],
                id_type="email",
                signed=query_pb2.SignedQuery(payload=b"junk"),
            ),
            (grpc.StatusCode.PERMISSION_DENIED,),
        ),
    ],
)
def test_run_overlap_refuses(cluster: FaultCluster, request_: Any, codes: Any) -> None:
    stub = cluster.coordinator_stub(BRAND)
    refused(lambda: stub.RunOverlap(request_, timeout=TIMEOUT), *codes)


@pytest.mark.parametrize(
    "request_",
    [
        coordinator_pb2.ProfileRequest(),
        coordinator_pb2.ProfileRequest(querier=BRAND, owners=[], attributes=["age_band"]),
        coordinator_pb2.ProfileRequest(querier=BRAND, owners=[RETAILER_A]),
        coordinator_pb2.ProfileRequest(querier=BRAND, owners=[""], attributes=[""]),
        coordinator_pb2.ProfileRequest(querier=BRAND, owners=[BRAND], attributes=["age_band"]),
        coordinator_pb2.ProfileRequest(querier="x", owners=[RETAILER_A], attributes=["age_band"]),
        coordinator_pb2.ProfileRequest(
            querier=BRAND, owners=[RETAILER_A], attributes=["age_band"], id_type="fax"
        ),
    ],
)
def test_run_profile_refuses(cluster: FaultCluster, request_: Any) -> None:
    stub = cluster.coordinator_stub(BRAND)
    refused(lambda: stub.RunProfile(request_, timeout=TIMEOUT))


def test_coordinator_oversized(cluster: FaultCluster) -> None:
    stub = cluster.coordinator_stub(BRAND)
    request = coordinator_pb2.OverlapRequest(parties=["p" * (5 * 1024 * 1024)], id_type="email")
    refused(lambda: stub.RunOverlap(request, timeout=TIMEOUT), grpc.StatusCode.RESOURCE_EXHAUSTED)


def test_queries_still_work(cluster: FaultCluster) -> None:
    """After all of the above, a real overlap query still returns the right counts."""
    result = cluster.client(BRAND).overlap([BRAND, RETAILER_A, RETAILER_B], "email", timeout=60)
    expected = truth(cluster.held, [BRAND, RETAILER_A, RETAILER_B])
    assert result.all_parties == expected.all_parties
    assert result.pair(BRAND, RETAILER_B) == expected.pair(BRAND, RETAILER_B)
    _ = codec  # the node codec is exercised by the fuzz tests
