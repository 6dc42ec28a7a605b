"""Hostile input into every RPC of a node and of the coordinator: each gets a specific status
code with a message (never UNKNOWN or INTERNAL), within a short timeout, and the node stays up."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from connectors.identifiers import NormalisationProfile
from protocols.paillier import PaillierPrivateKey
from runtime.serving import channel
from tests.faults.harness import (
    ATTRIBUTES,
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    FaultCluster,
    make_cluster,
    rpc_code,
    truth,
)
from wire import node_serde as codec
from wire.v1 import coordinator_pb2, node_pb2, points_pb2, query_pb2

TIMEOUT = 15.0
BAD = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
NODE = "/gongying.v1.PartyNode/"
COORDINATOR = "/gongying.v1.Coordinator/"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    running = make_cluster(tmp_path_factory.mktemp("hostile"), key_file, size=200)
    try:
        for party in PARTIES:
            running.start_node(party)
        running.start_coordinator(deadline=30.0)
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def nothing_left_open(cluster: FaultCluster) -> Iterator[None]:
    yield
    for party, node in cluster.nodes.items():
        for query_id in list(node.service.sessions._sessions):
            node.service.close(query_id, error="test cleanup")
        assert node.service.sessions.open_count() == 0, party


def refused(call: Callable[[], Any], *codes: grpc.StatusCode) -> grpc.RpcError:
    """The call fails with one of `codes` (INVALID_ARGUMENT by default) and a message."""
    wanted = codes or (grpc.StatusCode.INVALID_ARGUMENT,)
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    code = rpc_code(error)
    assert code not in BAD, f"{code}: {error.details()}"
    assert code in wanted, f"{code}: {error.details()}"
    assert error.details(), "the status carries a message"
    return error


def signed(cluster: FaultCluster, query_id: str, kind: str, parties: list[str]) -> Any:
    signer = cluster.client(BRAND).signer
    assert signer is not None
    owners = parties[1:] if kind == "profile" else []
    attributes = list(ATTRIBUTES) if kind == "profile" else []
    return signer.sign(query_id, kind, parties, "email", owners, attributes)


def open_member(cluster: FaultCluster, party: str = RETAILER_A) -> str:
    """An open overlap session at `party`, opened the way the coordinator does."""
    query_id = f"hostile-{uuid.uuid4()}"
    parties = [BRAND, RETAILER_A]
    cluster.node_stub(party).OpenSession(
        node_pb2.OpenSessionRequest(
            query_id=query_id,
            kind=node_pb2.QUERY_KIND_OVERLAP,
            id_type="email",
            profile_version=NormalisationProfile().label(),
            parties=parties,
            role=node_pb2.SESSION_ROLE_MEMBER,
            signed=signed(cluster, query_id, "overlap", parties),
        ),
        timeout=TIMEOUT,
    )
    return query_id


def open_profile(cluster: FaultCluster) -> tuple[str, PaillierPrivateKey]:
    """A profile query's querier session at brand and owner session at retailer_a."""
    query_id = f"hostile-{uuid.uuid4()}"
    parties = [BRAND, RETAILER_A]
    base = node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=node_pb2.QUERY_KIND_PROFILE,
        id_type="email",
        profile_version=NormalisationProfile().label(),
        parties=parties,
        signed=signed(cluster, query_id, "profile", parties),
    )
    querier = node_pb2.OpenSessionRequest()
    querier.CopyFrom(base)
    querier.role = node_pb2.SESSION_ROLE_QUERIER
    reply = cluster.node_stub(BRAND).OpenSession(querier, timeout=TIMEOUT)
    owner = node_pb2.OpenSessionRequest()
    owner.CopyFrom(base)
    owner.role = node_pb2.SESSION_ROLE_OWNER
    owner.attributes.extend(ATTRIBUTES)
    owner.paillier_n = reply.paillier_n
    owner.paillier_key_signature = reply.paillier_key_signature  # the querier binds its key
    cluster.node_stub(RETAILER_A).OpenSession(owner, timeout=TIMEOUT)
    key = cluster.nodes[BRAND].service.querier_key
    assert key is not None and key.public_key.n == int.from_bytes(reply.paillier_n, "big")
    return query_id, key


def points_stream(
    query_id: str,
    payloads: list[bytes],
    seqs: list[int] | None = None,
    count: int | None = None,
    digest: bytes | None = None,
    header: bool = True,
    trailer: bool = True,
) -> list[points_pb2.PointMessage]:
    messages = []
    if header:
        messages.append(
            points_pb2.PointMessage(
                header=points_pb2.StreamHeader(query_id=query_id, set_owner=BRAND)
            )
        )
    for index, payload in enumerate(payloads):
        seq = seqs[index] if seqs else index
        messages.append(
            points_pb2.PointMessage(chunk=points_pb2.PointChunk(seq=seq, points=payload))
        )
    if trailer:
        real = hashlib.sha256(b"".join(payloads)).digest()
        messages.append(
            points_pb2.PointMessage(
                trailer=points_pb2.StreamTrailer(
                    count=sum(len(p) // 32 for p in payloads) if count is None else count,
                    digest=real if digest is None else digest,
                )
            )
        )
    return messages


def good_points(n: int) -> bytes:
    from protocols.ristretto import hash_to_point

    return b"".join(hash_to_point(os.urandom(16)) for _ in range(n))


def reblind(cluster: FaultCluster, messages: list[Any]) -> list[Any]:
    return list(cluster.node_stub(RETAILER_A).Reblind(iter(messages), timeout=TIMEOUT))


# -- raw bytes into every method ------------------------------------------------------------

NODE_UNARY = ("Describe", "OpenSession", "ReleaseProfile", "CloseSession")
NODE_STREAMS = ("Reblind", "Aggregate")


def _garbage() -> list[bytes]:
    """Bytes that are not a valid protobuf message (truncated varint, bad wire type, ...)."""
    return [b"\xff" * 11, b"\x0a\xff\xff\xff\xff\x0f", b"\x07", os.urandom(64) + b"\x0f"]


@pytest.mark.parametrize("method", NODE_UNARY)
def test_node_unary_garbage(cluster: FaultCluster, method: str) -> None:
    with channel(cluster.node_address(RETAILER_A)) as raw:
        call = raw.unary_unary(NODE + method)
        for body in _garbage():
            refused(lambda body=body: call(body, timeout=TIMEOUT))  # type: ignore[misc]
        assert cluster.node_stub(RETAILER_A).Describe(node_pb2.DescribeRequest(), timeout=TIMEOUT)


def test_node_server_stream_garbage(cluster: FaultCluster) -> None:
    with channel(cluster.node_address(RETAILER_A)) as raw:
        call = raw.unary_stream(NODE + "StreamOwnSet")
        for body in _garbage():
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
        for body in _garbage():
            for stream in ([body], [header, body]):

                def run(stream: list[bytes] = stream) -> None:
                    reply = call(iter(stream), timeout=TIMEOUT)
                    if method == "Reblind":
                        list(reply)

                refused(run, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


@pytest.mark.parametrize("method", ["ListParties", "RunOverlap", "RunProfile"])
def test_coordinator_garbage(cluster: FaultCluster, method: str) -> None:
    with channel(cluster.address) as raw:
        call = raw.unary_unary(COORDINATOR + method)
        for body in _garbage():
            refused(lambda body=body: call(body, timeout=TIMEOUT))  # type: ignore[misc]


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


def _open(cluster: FaultCluster, **changes: Any) -> None:
    query_id = changes.pop("query_id", f"hostile-{uuid.uuid4()}")
    parties = changes.pop("parties", [BRAND, RETAILER_A])
    request = node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=changes.pop("kind", node_pb2.QUERY_KIND_OVERLAP),
        id_type=changes.pop("id_type", "email"),
        profile_version=changes.pop("profile_version", NormalisationProfile().label()),
        parties=parties,
        role=changes.pop("role", node_pb2.SESSION_ROLE_MEMBER),
        signed=changes.pop("signed", signed(cluster, query_id, "overlap", parties)),
        **changes,
    )
    cluster.node_stub(RETAILER_A).OpenSession(request, timeout=TIMEOUT)


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
    refused(lambda: _open(cluster, **changes), *codes)


def test_open_session_twice(cluster: FaultCluster) -> None:
    query_id = open_member(cluster)
    refused(
        lambda: _open(cluster, query_id=query_id),
        grpc.StatusCode.ALREADY_EXISTS,
    )


def test_open_session_oversized(cluster: FaultCluster) -> None:
    refused(
        lambda: _open(cluster, attributes=["a" * (5 * 1024 * 1024)]),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )


# -- Aggregate and ReleaseProfile ---------------------------------------------------------


def indicator_stream(
    query_id: str, fingerprint: bytes, payloads: list[bytes]
) -> Iterator[node_pb2.IndicatorMessage]:
    yield node_pb2.IndicatorMessage(
        header=node_pb2.IndicatorHeader(query_id=query_id, key_fingerprint=fingerprint)
    )
    for seq, payload in enumerate(payloads):
        yield node_pb2.IndicatorMessage(
            chunk=node_pb2.CiphertextChunk(seq=seq, ciphertexts=payload)
        )
    yield node_pb2.IndicatorMessage(
        trailer=points_pb2.StreamTrailer(
            count=sum(len(p) for p in payloads) // (len(payloads[0]) or 1) if payloads else 0,
            digest=hashlib.sha256(b"".join(payloads)).digest(),
        )
    )


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
