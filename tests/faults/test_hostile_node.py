"""Hostile input into every RPC of a node: each gets a specific status code with a message
(never UNKNOWN or INTERNAL), within a short timeout, and the node stays up."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import grpc
import pytest

from connectors.identifiers import NormalisationProfile
from runtime.serving import channel
from tests.faults import hostile
from tests.faults.harness import (
    BRAND,
    RETAILER_A,
    FaultCluster,
)
from tests.faults.hostile import (
    NODE,
    TIMEOUT,
    garbage,
    good_points,
    indicator_stream,
    open_member,
    open_profile,
    open_session,
    points_stream,
    reblind,
    refused,
)
from wire.v1 import node_pb2, points_pb2

pytestmark = pytest.mark.slow  # a deployment of node processes under hostile input

cluster = hostile.cluster  # the deployment and its clean-up, shared by both hostile suites
nothing_left_open = hostile.nothing_left_open

# -- raw bytes into every method ------------------------------------------------------------

NODE_UNARY = ("Describe", "OpenSession", "ReleaseProfile", "CloseSession")
NODE_STREAMS = ("Reblind", "Aggregate")


@pytest.mark.parametrize("method", NODE_UNARY)
def test_node_unary_garbage(cluster: FaultCluster, method: str) -> None:
    with channel(cluster.node_address(RETAILER_A)) as raw:
        call = raw.unary_unary(NODE + method)
        for body in garbage():
            refused(lambda body=body: call(body, timeout=TIMEOUT))  # type: ignore[misc]
        assert cluster.node_stub(RETAILER_A).Describe(node_pb2.DescribeRequest(), timeout=TIMEOUT)


def test_node_server_stream_garbage(cluster: FaultCluster) -> None:
    with channel(cluster.node_address(RETAILER_A)) as raw:
        call = raw.unary_stream(NODE + "StreamOwnSet")
        for body in garbage():
            refused(lambda body=body: list(call(body, timeout=TIMEOUT)))  # type: ignore[misc]


@pytest.mark.parametrize("method", NODE_STREAMS)
def test_node_client_stream_garbage(cluster: FaultCluster, method: str) -> None:
    query_id = open_member(cluster)
    header = points_pb2.PointMessage(
        header=points_pb2.StreamHeader(query_id=query_id)
    ).SerializeToString()
    with channel(cluster.node_address(RETAILER_A)) as raw:
        if method == "Reblind":
            call: Any = raw.stream_stream(NODE + method)
        else:
            call = raw.stream_unary(NODE + method)
        for body in garbage():
            for stream in ([body], [header, body]):

                def run(stream: list[bytes] = stream) -> None:
                    reply = call(iter(stream), timeout=TIMEOUT)
                    if method == "Reblind":
                        list(reply)

                refused(run, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


# -- points ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, needle",
    [
        ("wrong_length", "bytes"),
        ("non_canonical", "point"),
        ("identity", "point"),
        ("seq_gap", "chunk 1 arrived where chunk 0"),
        ("seq_repeat", "chunk 0 arrived where chunk 1"),
        ("count", "trailer counts"),
        ("digest", "digest"),
        ("truncated", "truncated"),
        ("no_header", "header"),
        ("after_trailer", "after the trailer"),
        ("empty_chunk", "non-empty"),
    ],
)
def test_reblind_refuses(cluster: FaultCluster, case: str, needle: str) -> None:
    query_id = open_member(cluster)
    ok = good_points(4)
    streams = {
        "wrong_length": points_stream(query_id, [ok[:-1]]),
        "non_canonical": points_stream(query_id, [ok[:32] + b"\xff" * 32]),
        "identity": points_stream(query_id, [bytes(32) + ok[:32]]),
        "seq_gap": points_stream(query_id, [ok], seqs=[1]),
        "seq_repeat": points_stream(query_id, [ok[:64], ok[64:]], seqs=[0, 0]),
        "count": points_stream(query_id, [ok], count=5),
        "digest": points_stream(query_id, [ok], digest=bytes(32)),
        "truncated": points_stream(query_id, [ok], trailer=False),
        "no_header": points_stream(query_id, [ok], header=False),
        "after_trailer": [*points_stream(query_id, [ok]), points_stream(query_id, [ok])[1]],
        "empty_chunk": points_stream(query_id, [b""]),
    }
    error = refused(lambda: reblind(cluster, streams[case]))
    assert needle in error.details()
    assert RETAILER_A in error.details()


def test_reblind_unknown_and_empty_query(cluster: FaultCluster) -> None:
    ok = good_points(2)
    for query_id in ("no-such-query", ""):
        error = refused(
            lambda q=query_id: reblind(cluster, points_stream(q, [ok])),  # type: ignore[misc]
            grpc.StatusCode.NOT_FOUND,
        )
        assert "no open session" in error.details()


def test_stream_own_set_unknown_query(cluster: FaultCluster) -> None:
    stub = cluster.node_stub(RETAILER_A)
    for query_id in ("no-such-query", ""):
        refused(
            lambda q=query_id: list(  # type: ignore[misc]
                stub.StreamOwnSet(node_pb2.StreamOwnSetRequest(query_id=q), timeout=TIMEOUT)
            ),
            grpc.StatusCode.NOT_FOUND,
        )


def test_reblind_oversized_message(cluster: FaultCluster) -> None:
    query_id = open_member(cluster)
    huge = os.urandom(5 * 1024 * 1024 // 32 * 32)
    refused(
        lambda: reblind(cluster, points_stream(query_id, [huge])),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )


def test_reblind_oversized_chunk_under_grpc_limit(cluster: FaultCluster) -> None:
    """A 2 MiB chunk passes gRPC's 4 MiB limit but not the stream's 8192-point limit."""
    query_id = open_member(cluster)
    refused(lambda: reblind(cluster, points_stream(query_id, [os.urandom(2 * 1024 * 1024)])))


# -- OpenSession ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, codes",
    [
        ({}, ()),  # control: see below
        ({"signed": None}, (grpc.StatusCode.PERMISSION_DENIED,)),
        ({"query_id": ""}, (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT)),
        (
            {"query_id": "x" * 200},
            (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT),
        ),
        ({"id_type": "fax"}, (grpc.StatusCode.PERMISSION_DENIED,)),
        ({"kind": node_pb2.QUERY_KIND_UNSPECIFIED}, (grpc.StatusCode.PERMISSION_DENIED,)),
        ({"parties": []}, (grpc.StatusCode.PERMISSION_DENIED,)),
        (
            {"profile_version": "nfkc-9"},
            (grpc.StatusCode.INVALID_ARGUMENT,),
        ),
        (
            {"role": node_pb2.SESSION_ROLE_OWNER, "paillier_n": b"\x01" * 16},
            (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED),
        ),
    ],
)
def test_open_session_refuses(cluster: FaultCluster, changes: dict[str, Any], codes: Any) -> None:
    if not changes:
        return
    if changes.get("signed", 0) is None:
        changes["signed"] = None
        request_changes = {k: v for k, v in changes.items() if k != "signed"}

        def unsigned() -> None:
            request = node_pb2.OpenSessionRequest(
                query_id="unsigned",
                kind=node_pb2.QUERY_KIND_OVERLAP,
                id_type="email",
                profile_version=NormalisationProfile().label(),
                parties=[BRAND, RETAILER_A],
                **request_changes,
            )
            cluster.node_stub(RETAILER_A).OpenSession(request, timeout=TIMEOUT)

        refused(unsigned, *codes)
        return
    refused(lambda: open_session(cluster, **changes), *codes)


def test_open_session_twice(cluster: FaultCluster) -> None:
    query_id = open_member(cluster)
    refused(
        lambda: open_session(cluster, query_id=query_id),
        grpc.StatusCode.ALREADY_EXISTS,
    )


def test_open_session_oversized(cluster: FaultCluster) -> None:
    refused(
        lambda: open_session(cluster, attributes=["a" * (5 * 1024 * 1024)]),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )


# -- Aggregate and ReleaseProfile ---------------------------------------------------------


def test_aggregate_refuses(cluster: FaultCluster) -> None:
    query_id, key = open_profile(cluster)
    public = key.public_key
    width = public.ciphertext_width
    rows = len(cluster.held[RETAILER_A])
    stub = cluster.node_stub(RETAILER_A)
    good = public.fingerprint()
    one = (1).to_bytes(width, "big")

    def aggregate(fingerprint: bytes, payloads: list[bytes], qid: str = query_id) -> None:
        stub.Aggregate(indicator_stream(qid, fingerprint, payloads), timeout=TIMEOUT)

    error = refused(lambda: aggregate(hashlib.sha256(b"another key").digest(), [one * rows]))
    assert "different key" in error.details()
    out_of_range = (public.n * public.n + 5).to_bytes(width, "big")
    refused(lambda: aggregate(good, [out_of_range * min(rows, 8)]))  # too few, and out of range
    # exactly the right count, one value out of range
    chunk = 256
    payloads = [one * chunk for _ in range(rows // chunk)]
    if rows % chunk:
        payloads.append(one * (rows % chunk))
    payloads[0] = out_of_range + payloads[0][width:]
    refused(lambda: aggregate(good, payloads))
    refused(lambda: aggregate(good, [one * (rows + 1)]))  # more indicators than members
    refused(lambda: aggregate(good, [b"\x01" * (width - 1)]))  # wrong width
    refused(lambda: aggregate(good, [one], qid="no-such-query"), grpc.StatusCode.NOT_FOUND)


def test_aggregate_on_a_member_session(cluster: FaultCluster) -> None:
    query_id = open_member(cluster)
    refused(
        lambda: cluster.node_stub(RETAILER_A).Aggregate(
            indicator_stream(query_id, b"x" * 32, [b"\x01" * 512]), timeout=TIMEOUT
        )
    )


def test_release_refuses(cluster: FaultCluster) -> None:
    query_id, key = open_profile(cluster)
    public = key.public_key
    width = public.ciphertext_width
    stub = cluster.node_stub(BRAND)

    def release(
        values: list[bytes],
        fingerprint: bytes | None = None,
        qid: str = query_id,
        copies: int = 1,
    ) -> Any:
        fingerprint = public.fingerprint() if fingerprint is None else fingerprint
        aggregate = node_pb2.AggregateResponse(
            party=RETAILER_A,
            key_fingerprint=fingerprint,
            cells=[
                node_pb2.AggregateCell(attribute="", cell="overlap", ciphertext=v) for v in values
            ],
            terms=node_pb2.OwnerTerms(party=RETAILER_A, set_size=10),
        )
        return stub.ReleaseProfile(
            node_pb2.ReleaseProfileRequest(
                query_id=qid, key_fingerprint=fingerprint, aggregates=[aggregate] * copies
            ),
            timeout=TIMEOUT,
        )

    n2 = public.n * public.n
    for value in (0, n2, n2 + 1, public.n):  # zero, out of range, a multiple of n
        refused(lambda v=value: release([v.to_bytes(width, "big")]))  # type: ignore[misc]
    refused(lambda: release([b"\x01"]))  # wrong width
    refused(lambda: release([b""]))
    refused(lambda: release([(2).to_bytes(width, "big")], fingerprint=b"\x00" * 32))
    refused(lambda: release([(2).to_bytes(width, "big")] * 2))  # cells its specs do not make
    refused(lambda: release([(2).to_bytes(width, "big")], copies=5000))  # too many cells
    refused(lambda: release([(2).to_bytes(width, "big")], qid="nope"), grpc.StatusCode.NOT_FOUND)
    # the owner holds no querier key
    owner_stub = cluster.node_stub(RETAILER_A)
    refused(
        lambda: owner_stub.ReleaseProfile(
            node_pb2.ReleaseProfileRequest(query_id=query_id), timeout=TIMEOUT
        )
    )


def test_close_unknown_session_is_harmless(cluster: FaultCluster) -> None:
    reply = cluster.node_stub(RETAILER_A).CloseSession(
        node_pb2.CloseSessionRequest(query_id="never-opened", outcome="released"), timeout=TIMEOUT
    )
    assert not reply.forgotten and not reply.committed
