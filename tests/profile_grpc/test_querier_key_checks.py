"""Querier key checks without a policy, over real gRPC: the owner still refuses a degenerate key
(only the signature binding needs a policy), and the coordinator refuses a querier's short key."""

from __future__ import annotations

from collections.abc import Iterator

import gmpy2
import grpc
import pytest

from client.sdk import CoordinatorClient, QueryError
from coordinator.server import CoordinatorServer
from gongying.demo_data import generate_demo_data
from node.server import NodeServer
from protocols.paillier import generate_keypair
from runtime.serving import channel
from tests.cluster import Cluster, demo_parties, start_cluster
from wire.node_serde import int_to_bytes
from wire.v1 import node_pb2, node_pb2_grpc

Deployment = tuple[dict[str, NodeServer], CoordinatorServer]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """brand holds a 1024-bit key pair (written before it starts); retailer_a owns attributes."""
    folder = tmp_path_factory.mktemp("keys")
    data = generate_demo_data(folder / "data", members=150, seed=5)
    _, short = generate_keypair(1024, insecure_test_size=True)
    (folder / "brand.paillier.json").write_text(short.to_json())
    paths = {p: data.paths[p] for p in ("brand", "retailer_a")}
    cluster: Cluster = start_cluster(folder, demo_parties(paths), secure=False)
    yield cluster.nodes, cluster.coordinator
    cluster.stop()


def test_the_coordinator_refuses_a_queriers_short_key(deployment: Deployment) -> None:
    nodes, coordinator = deployment
    with CoordinatorClient(coordinator.address) as client, pytest.raises(QueryError) as caught:
        client.profile("brand", ["retailer_a"], ["gender"])
    assert caught.value.code == "FAILED_PRECONDITION"
    assert "the Paillier key of querier brand is refused: modulus has 1024 bits" in str(
        caught.value
    )
    assert all(n.service.sessions.open_count() == 0 for n in nodes.values())


@pytest.mark.parametrize(
    ("modulus", "reason"),
    [
        (int(gmpy2.next_prime(3 << 1022)) ** 2, "perfect power"),
        (int(gmpy2.next_prime(3 << 2046)), "is prime"),
        (3 * int(gmpy2.next_prime(3 << 2045)), "small prime factor 3"),
    ],
    ids=["p^2", "prime", "3 x odd"],
)
def test_without_a_policy_the_owner_still_refuses_a_degenerate_key(
    deployment: Deployment, modulus: int, reason: str
) -> None:
    nodes, _ = deployment
    owner = nodes["retailer_a"]
    stub = node_pb2_grpc.PartyNodeStub(channel(owner.address))
    with pytest.raises(grpc.RpcError) as caught:
        stub.OpenSession(
            node_pb2.OpenSessionRequest(
                query_id=f"degenerate-{reason.replace(' ', '-')}",
                kind=node_pb2.QUERY_KIND_PROFILE,
                id_type="email",
                profile_version=owner.config.normalisation.label(),
                parties=["brand", "retailer_a"],
                role=node_pb2.SESSION_ROLE_OWNER,
                attributes=["gender"],
                paillier_n=int_to_bytes(modulus),
            )
        )
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason in str(caught.value.details())
    assert owner.service.sessions.open_count() == 0
