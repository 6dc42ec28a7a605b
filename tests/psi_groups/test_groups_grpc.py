"""Overlaps over real gRPC in each PSI group, equal to the pandas truth; mixed groups refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from client.sdk import CoordinatorClient, QueryError
from gongying.demo_data import generate_demo_data
from gongying.oracle import OverlapTruth
from tests.cluster import EMAIL_PHONE, Cluster, Party, start_cluster
from tests.integration.deployment import assert_equals_truth, file_truth
from wire.v1 import node_pb2, node_pb2_grpc

pytestmark = pytest.mark.slow  # deploys nodes of both PSI groups over gRPC

# brand serves only X25519, retailer_b only ristretto255 (a node from before X25519)
SERVES = {
    "brand": ("x25519",),
    "retailer_a": ("x25519", "ristretto255"),
    "retailer_b": ("ristretto255",),
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A plaintext deployment of the demo's parties, each serving its groups in SERVES."""
    root = tmp_path_factory.mktemp("groups")
    data = generate_demo_data(root / "data", members=150, seed=5)
    parties = [
        Party(p, data.paths[p], EMAIL_PHONE, more={"psi_groups": list(groups)})
        for p, groups in SERVES.items()
    ]
    started: Cluster = start_cluster(root, parties, secure=False)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def client(running: Cluster) -> Iterator[CoordinatorClient]:
    with running.client("brand") as connected:
        yield connected


def _truth(running: Cluster, parties: list[str]) -> OverlapTruth:
    paths: dict[str, Path] = {}
    for party in parties:
        data = running.parties[party].data
        assert isinstance(data, Path)
        paths[party] = data
    return file_truth(paths, "email")


def test_x25519_overlap_equals_the_truth(running: Cluster, client: CoordinatorClient) -> None:
    """brand serves X25519 only, so the answer was computed in X25519."""
    parties = ["brand", "retailer_a"]
    result = client.overlap(parties, "email", groups=("x25519",))
    assert_equals_truth(result, _truth(running, parties), parties)
    assert (result.all_parties or 0) > 0


def test_default_falls_back_to_a_group_every_party_serves(
    running: Cluster, client: CoordinatorClient
) -> None:
    parties = ["retailer_b", "retailer_a"]
    result = client.overlap(parties, "email")  # allows x25519 then ristretto255
    assert_equals_truth(result, _truth(running, parties), parties)


def test_ristretto255_stays_selectable(running: Cluster, client: CoordinatorClient) -> None:
    parties = ["retailer_a", "retailer_b"]
    result = client.overlap(parties, "email", groups=("ristretto255",))
    assert_equals_truth(result, _truth(running, parties), parties)


def test_a_cached_load_is_hashed_again_for_another_group(
    running: Cluster, client: CoordinatorClient
) -> None:
    """retailer_a keeps its file's hash points between queries; they belong to one group."""
    for parties, group in (
        (["brand", "retailer_a"], "x25519"),
        (["retailer_a", "retailer_b"], "ristretto255"),
        (["brand", "retailer_a"], "x25519"),
    ):
        result = client.overlap(parties, "email", groups=(group,))
        assert_equals_truth(result, _truth(running, parties), parties)


def test_mixed_groups_are_refused_in_one_line(running: Cluster, client: CoordinatorClient) -> None:
    with pytest.raises(QueryError) as refused:
        client.overlap(["brand", "retailer_b"], "email")
    assert refused.value.code == "FAILED_PRECONDITION"
    message = str(refused.value)
    assert "\n" not in message and "Traceback" not in message
    assert message == (
        "overlap query: no PSI group allowed by the query (x25519, ristretto255) is supported "
        "by every party: brand supports x25519; retailer_b supports ristretto255"
    )
    assert all(n.service.sessions.open_count() == 0 for n in running.nodes.values())


def test_a_node_refuses_a_group_it_does_not_serve(running: Cluster) -> None:
    """Attack: a coordinator that asks retailer_b for X25519 anyway."""
    node = running.nodes["retailer_b"]
    with grpc.insecure_channel(node.address) as channel:
        stub = node_pb2_grpc.PartyNodeStub(channel)
        assert list(stub.Describe(node_pb2.DescribeRequest()).psi_groups) == ["ristretto255"]
        with pytest.raises(grpc.RpcError) as refused:
            stub.OpenSession(
                node_pb2.OpenSessionRequest(
                    query_id="forced",
                    kind=node_pb2.QUERY_KIND_OVERLAP,
                    id_type="email",
                    profile_version=node.service.config.normalisation.label(),
                    parties=["brand", "retailer_b"],
                    role=node_pb2.SESSION_ROLE_MEMBER,
                    psi_group="x25519",
                ),
                timeout=30,
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = refused.value.details() or ""
    assert (
        "party 'retailer_b' does not serve PSI group 'x25519' (it serves ristretto255)" in details
    )
    assert "\n" not in details
    assert node.service.sessions.open_count() == 0
