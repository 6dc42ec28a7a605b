"""Overlaps over real gRPC in each PSI group, equal to the pandas truth; mixed groups refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from client.sdk import CoordinatorClient, QueryError
from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.demo_data import generate_demo_data
from gongying.oracle import OverlapTruth
from node.server import NodeServer, start_node
from tests.cluster import LOOPBACK
from tests.integration.deployment import (
    assert_equals_truth,
    file_truth,
    node_config,
    source_for,
)
from wire.v1 import node_pb2, node_pb2_grpc

# brand serves only X25519, retailer_b only ristretto255 (a node from before X25519)
SERVES = {
    "brand": ("x25519",),
    "retailer_a": ("x25519", "ristretto255"),
    "retailer_b": ("ristretto255",),
}


class Running:
    def __init__(self, root: Path) -> None:
        data = generate_demo_data(root / "data", members=150, seed=5)
        self.paths = {party: data.paths[party] for party in SERVES}
        self.nodes: dict[str, NodeServer] = {}
        for party, groups in SERVES.items():
            config = node_config(party, source_for("csv", data.paths[party], root / "data"))
            self.nodes[party] = start_node(replace(config, psi_groups=groups), listen=LOOPBACK)
        self.coordinator: CoordinatorServer = start_coordinator(
            CoordinatorConfig(
                listen=LOOPBACK,
                parties={p: n.address for p, n in self.nodes.items()},
                deadline_seconds=60,
                insecure_plaintext=True,
            ),
            listen=LOOPBACK,
        )

    def stop(self) -> None:
        self.coordinator.stop(grace=1.0)
        for node in self.nodes.values():
            node.stop(grace=1.0)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    started = Running(tmp_path_factory.mktemp("groups"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def client(running: Running) -> Iterator[CoordinatorClient]:
    with CoordinatorClient(running.coordinator.address) as connected:
        yield connected


def _truth(running: Running, parties: list[str]) -> OverlapTruth:
    return file_truth({p: running.paths[p] for p in parties}, "email")


def test_x25519_overlap_equals_the_truth(running: Running, client: CoordinatorClient) -> None:
    """brand serves X25519 only, so the answer was computed in X25519."""
    parties = ["brand", "retailer_a"]
    result = client.overlap(parties, "email", groups=("x25519",))
    assert_equals_truth(result, _truth(running, parties), parties)
    assert (result.all_parties or 0) > 0


def test_default_falls_back_to_a_group_every_party_serves(
    running: Running, client: CoordinatorClient
) -> None:
    parties = ["retailer_b", "retailer_a"]
    result = client.overlap(parties, "email")  # allows x25519 then ristretto255
    assert_equals_truth(result, _truth(running, parties), parties)


def test_ristretto255_stays_selectable(running: Running, client: CoordinatorClient) -> None:
    parties = ["retailer_a", "retailer_b"]
    result = client.overlap(parties, "email", groups=("ristretto255",))
    assert_equals_truth(result, _truth(running, parties), parties)


def test_a_cached_load_is_hashed_again_for_another_group(
    running: Running, client: CoordinatorClient
) -> None:
    """retailer_a keeps its file's hash points between queries; they belong to one group."""
    for parties, group in (
        (["brand", "retailer_a"], "x25519"),
        (["retailer_a", "retailer_b"], "ristretto255"),
        (["brand", "retailer_a"], "x25519"),
    ):
        result = client.overlap(parties, "email", groups=(group,))
        assert_equals_truth(result, _truth(running, parties), parties)


def test_mixed_groups_are_refused_in_one_line(running: Running, client: CoordinatorClient) -> None:
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


def test_a_node_refuses_a_group_it_does_not_serve(running: Running) -> None:
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
