"""What a node puts on the wire, and how it treats bad input, seen through raw gRPC stubs."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import grpc
import pytest

from connectors.errors import ConnectorError
from connectors.identifiers import ColumnKind, IdType, NormalisationProfile, normalise, psi_element
from protocols import ristretto
from protocols.ristretto import HASH_DOMAIN, POINT_BYTES
from runtime.serving import channel
from tests.integration.deployment import Deployment, csv_as_text
from wire.streams import point_messages
from wire.v1 import node_pb2, node_pb2_grpc, points_pb2

PARTY = "brand"


@pytest.fixture(scope="module")
def stub(deployment: Deployment) -> Iterator[node_pb2_grpc.PartyNodeStub]:
    with channel(deployment.nodes[PARTY].address) as open_channel:
        yield node_pb2_grpc.PartyNodeStub(open_channel)


def _open(stub: node_pb2_grpc.PartyNodeStub, query_id: str, id_type: str = "email") -> int:
    response = stub.OpenSession(
        node_pb2.OpenSessionRequest(
            query_id=query_id,
            kind=node_pb2.QUERY_KIND_OVERLAP,
            id_type=id_type,
            profile_version=NormalisationProfile().label(),
            parties=[PARTY, "retailer_a"],
            role=node_pb2.SESSION_ROLE_MEMBER,
        ),
        timeout=30,
    )
    assert response.party == PARTY
    size: int = response.set_size
    return size


def _close(stub: node_pb2_grpc.PartyNodeStub, query_id: str) -> None:
    assert stub.CloseSession(node_pb2.CloseSessionRequest(query_id=query_id), timeout=10).forgotten


def _own_set(
    stub: node_pb2_grpc.PartyNodeStub, query_id: str
) -> tuple[list[points_pb2.PointMessage], list[bytes]]:
    messages = list(stub.StreamOwnSet(node_pb2.StreamOwnSetRequest(query_id=query_id), timeout=30))
    data = b"".join(m.chunk.points for m in messages if m.WhichOneof("body") == "chunk")
    return messages, [data[i : i + POINT_BYTES] for i in range(0, len(data), POINT_BYTES)]


def test_no_raw_identifier_on_the_wire(
    deployment: Deployment, stub: node_pb2_grpc.PartyNodeStub
) -> None:
    values = _normalised_emails(deployment)
    size = _open(stub, "wire-1")
    try:
        messages, points = _own_set(stub, "wire-1")
    finally:
        _close(stub, "wire-1")
    assert size == len(values) == len(points) == len(set(points))
    ristretto.validate_points(b"".join(points))
    wire = b"".join(m.SerializeToString() for m in messages)
    hashed = set()
    for value in values:
        element = psi_element(IdType.EMAIL, value)
        point = ristretto.hash_to_point(element)
        hashed.add(point)
        needles = [
            element,
            value.encode(),
            hashlib.sha256(element).digest(),
            hashlib.sha256(value.encode()).digest(),
            hashlib.sha256(value.encode()).hexdigest().encode(),
            hashlib.sha512(element).digest(),
            hashlib.sha512(HASH_DOMAIN + element).digest(),
            point,
        ]
        for needle in needles:
            assert needle not in wire, f"{value}: {needle!r} appears on the wire"
    assert hashed.isdisjoint(points)  # every point is blinded, none is a bare H(x)


def _normalised_emails(deployment: Deployment) -> set[str]:
    """The brand's distinct normalised emails, straight from its CSV."""
    values = set()
    for raw in csv_as_text(deployment.csv_paths[PARTY])["email"]:
        with contextlib.suppress(ConnectorError):
            values.add(normalise(ColumnKind.EMAIL, raw, IdType.EMAIL))
    return values


def test_two_queries_use_unlinkable_points(stub: node_pb2_grpc.PartyNodeStub) -> None:
    _open(stub, "fresh-1")
    _open(stub, "fresh-2")
    try:
        _, first = _own_set(stub, "fresh-1")
        _, second = _own_set(stub, "fresh-2")
        _, again = _own_set(stub, "fresh-1")
    finally:
        _close(stub, "fresh-1")
        _close(stub, "fresh-2")
    assert len(first) == len(second) > 0
    assert set(first).isdisjoint(second)
    assert set(again) == set(first)  # one key per query, for the whole query


def _reblind(
    stub: node_pb2_grpc.PartyNodeStub, messages: list[points_pb2.PointMessage]
) -> list[points_pb2.PointMessage]:
    return list(stub.Reblind(iter(messages), timeout=30))


def _valid_points(count: int) -> bytes:
    return b"".join(ristretto.hash_to_point(f"email:x{i}@y.cn".encode()) for i in range(count))


def _header(query_id: str) -> points_pb2.StreamHeader:
    return points_pb2.StreamHeader(query_id=query_id, set_owner="retailer_a")


def test_reblind_multiplies_by_the_session_key(stub: node_pb2_grpc.PartyNodeStub) -> None:
    _open(stub, "reblind-ok")
    try:
        points = _valid_points(10)
        reply = _reblind(stub, list(point_messages(_header("reblind-ok"), [points])))
    finally:
        _close(stub, "reblind-ok")
    assert reply[0].header.query_id == "reblind-ok"
    assert reply[0].header.set_owner == "retailer_a"
    assert reply[-1].trailer.count == 10
    out = b"".join(m.chunk.points for m in reply if m.WhichOneof("body") == "chunk")
    got = {out[i : i + POINT_BYTES] for i in range(0, len(out), POINT_BYTES)}
    assert len(got) == 10
    assert got.isdisjoint({points[i : i + POINT_BYTES] for i in range(0, len(points), 32)})


@pytest.mark.parametrize("index", [0, 3, 8192 + 2])
def test_reblind_refuses_a_malformed_point(stub: node_pb2_grpc.PartyNodeStub, index: int) -> None:
    _open(stub, "bad-point")
    points = bytearray(_valid_points(index + 4))
    points[index * POINT_BYTES : (index + 1) * POINT_BYTES] = b"\xff" * POINT_BYTES
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _reblind(stub, list(point_messages(_header("bad-point"), [bytes(points)])))
    finally:
        _close(stub, "bad-point")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"point {index} is invalid" in caught.value.details()
    assert PARTY in caught.value.details()


def test_reblind_refuses_the_identity(stub: node_pb2_grpc.PartyNodeStub) -> None:
    _open(stub, "identity")
    points = _valid_points(2) + bytes(POINT_BYTES)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _reblind(stub, list(point_messages(_header("identity"), [points])))
    finally:
        _close(stub, "identity")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "point 2 is invalid" in caught.value.details()


def test_reblind_refuses_a_truncated_stream(stub: node_pb2_grpc.PartyNodeStub) -> None:
    _open(stub, "truncated")
    messages = list(point_messages(_header("truncated"), [_valid_points(5)]))[:-1]
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _reblind(stub, messages)
    finally:
        _close(stub, "truncated")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "truncated" in caught.value.details()
    assert "without a trailer" in caught.value.details()


def test_reblind_refuses_a_bad_trailer(stub: node_pb2_grpc.PartyNodeStub) -> None:
    _open(stub, "bad-trailer")
    messages = list(point_messages(_header("bad-trailer"), [_valid_points(5)]))
    messages[-1].trailer.count = 4
    try:
        with pytest.raises(grpc.RpcError) as caught:
            _reblind(stub, messages)
    finally:
        _close(stub, "bad-trailer")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "trailer counts 4 items but 5 arrived" in caught.value.details()


def test_reblind_without_header(stub: node_pb2_grpc.PartyNodeStub) -> None:
    messages = list(point_messages(None, [_valid_points(2)]))
    with pytest.raises(grpc.RpcError) as caught:
        _reblind(stub, messages)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must open with a header" in caught.value.details()


def test_reblind_for_an_unknown_query(stub: node_pb2_grpc.PartyNodeStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _reblind(stub, list(point_messages(_header("never-opened"), [_valid_points(2)])))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "never-opened" in caught.value.details()


def test_stream_after_close_is_refused(stub: node_pb2_grpc.PartyNodeStub) -> None:
    _open(stub, "closed")
    _close(stub, "closed")
    with pytest.raises(grpc.RpcError) as caught:
        _own_set(stub, "closed")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_open_refuses_a_different_profile(stub: node_pb2_grpc.PartyNodeStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.OpenSession(
            node_pb2.OpenSessionRequest(
                query_id="profile-mismatch",
                kind=node_pb2.QUERY_KIND_OVERLAP,
                id_type="email",
                profile_version="gy-id/1;region=US;gmail=1",
                parties=[PARTY, "retailer_a"],
                role=node_pb2.SESSION_ROLE_MEMBER,
            ),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "region=US" in caught.value.details()
