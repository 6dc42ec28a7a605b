"""What the hostile-input suites share: the deployment, the refusal check, stream builders."""

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
from tests.faults.harness import (
    ATTRIBUTES,
    BRAND,
    RETAILER_A,
    FaultCluster,
    rpc_code,
    running_cluster,
)
from wire.v1 import node_pb2, points_pb2

TIMEOUT = 15.0
BAD = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
NODE = "/gongying.v1.PartyNode/"
COORDINATOR = "/gongying.v1.Coordinator/"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    yield from running_cluster(tmp_path_factory.mktemp("hostile"), key_file, size=200)


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


def garbage() -> list[bytes]:
    """Bytes that are not a valid protobuf message (truncated varint, bad wire type, ...)."""
    return [b"\xff" * 11, b"\x0a\xff\xff\xff\xff\x0f", b"\x07", os.urandom(64) + b"\x0f"]


def open_session(cluster: FaultCluster, **changes: Any) -> None:
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
