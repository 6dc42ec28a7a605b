"""Profile queries over real gRPC on loopback, checked against the pandas truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from client.sdk import CoordinatorClient, QueryError
from coordinator.server import CoordinatorServer
from gongying.demo_data import generate_demo_data
from gongying.demo_profile import ATTRIBUTES, differences, profile_truths
from node.server import NodeServer
from protocols.masks import build_mask_table, generate_masks
from protocols.paillier import PaillierPrivateKey, encrypt
from runtime.serving import channel
from tests.cluster import Cluster, demo_parties, start_cluster
from wire.streams import frame
from wire.v1 import node_pb2, node_pb2_grpc

pytestmark = pytest.mark.slow  # profile queries over a deployment, 2048-bit Paillier


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, NodeServer], CoordinatorServer, dict[str, Path]]]:
    folder = tmp_path_factory.mktemp("profile")
    data = generate_demo_data(folder / "data", members=400, seed=11)
    paths = dict(data.paths)
    lonely = folder / "data" / "lonely.csv"
    pd.DataFrame({"email": ["nobody1@nowhere.cn", "nobody2@nowhere.cn"], "phone": ["", ""]}).to_csv(
        lonely, index=False
    )
    paths["lonely"] = lonely
    cluster: Cluster = start_cluster(folder, demo_parties(paths), secure=False)
    yield cluster.nodes, cluster.coordinator, paths
    cluster.stop()


def test_profile_equals_pandas_truth_per_owner_and_combined(deployment) -> None:  # type: ignore[no-untyped-def]
    nodes, coordinator, paths = deployment
    owners = ["retailer_a", "retailer_b"]
    with CoordinatorClient(coordinator.address) as client:
        result = client.profile("brand", owners, list(ATTRIBUTES))
    truths = profile_truths(paths, "brand", owners, "email")
    assert differences(result, truths) == []
    assert (result.profile("retailer_a").overlap or 0) > 0
    assert [p.owner for p in result.profiles] == [*owners, "combined"]
    assert all(n.service.sessions.open_count() == 0 for n in nodes.values())


def test_empty_overlap_gives_zero_counts_and_no_mean(deployment) -> None:  # type: ignore[no-untyped-def]
    _, coordinator, _ = deployment
    with CoordinatorClient(coordinator.address) as client:
        result = client.profile("lonely", ["retailer_c"], ["age_band", "spend_12m"])
    profile = result.profile("retailer_c")
    assert profile.overlap == 0
    assert sum(n or 0 for n in profile.categorical["age_band"].values()) == 0
    assert None not in profile.categorical["age_band"].values()
    assert profile.numeric["spend_12m"].count == 0
    assert profile.numeric["spend_12m"].mean is None


def test_undeclared_attribute_is_refused_naming_it(deployment) -> None:  # type: ignore[no-untyped-def]
    _, coordinator, _ = deployment
    with CoordinatorClient(coordinator.address) as client, pytest.raises(QueryError) as caught:
        client.profile("brand", ["retailer_a"], ["income"])
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "income" in str(caught.value) and "retailer_a" in str(caught.value)


def test_querier_without_key_is_refused(deployment) -> None:  # type: ignore[no-untyped-def]
    _, coordinator, _ = deployment
    with CoordinatorClient(coordinator.address) as client, pytest.raises(QueryError) as caught:
        client.profile("retailer_a", ["retailer_b"], ["gender"])
    assert "Paillier" in str(caught.value)


def test_owner_returns_only_one_ciphertext_per_bin_or_statistic(deployment) -> None:  # type: ignore[no-untyped-def]
    """Drive an owner directly: whatever it holds, it answers with aggregate cells only."""
    nodes, _, paths = deployment
    brand_key = PaillierPrivateKey.from_json(
        (Path(paths["brand"]).parent.parent / "brand.paillier.json").read_text()
    )
    public_key = brand_key.public_key
    owner = nodes["retailer_b"]
    stub = node_pb2_grpc.PartyNodeStub(channel(owner.address))
    opened = stub.OpenSession(
        node_pb2.OpenSessionRequest(
            query_id="direct-1",
            kind=node_pb2.QUERY_KIND_PROFILE,
            id_type="email",
            profile_version=owner.config.normalisation.label(),
            parties=["brand", "retailer_b"],
            role=node_pb2.SESSION_ROLE_OWNER,
            attributes=["gender", "visits_12m"],
            paillier_n=public_key.n.to_bytes((public_key.n.bit_length() + 7) // 8, "big"),
        )
    )
    rows = opened.set_size
    chosen = set(range(0, rows, 3))
    masks = generate_masks(build_mask_table(public_key), rows)
    indicators = b"".join(
        encrypt(public_key, int(i in chosen), masks[i]).to_bytes(public_key.ciphertext_width, "big")
        for i in range(rows)
    )

    def messages() -> Iterator[node_pb2.IndicatorMessage]:
        yield node_pb2.IndicatorMessage(
            header=node_pb2.IndicatorHeader(
                query_id="direct-1", key_fingerprint=public_key.fingerprint()
            )
        )
        yield from frame(
            iter((indicators,)),
            public_key.ciphertext_width,
            lambda seq, data: node_pb2.IndicatorMessage(
                chunk=node_pb2.CiphertextChunk(seq=seq, ciphertexts=data)
            ),
            lambda trailer: node_pb2.IndicatorMessage(trailer=trailer),
        )

    response = stub.Aggregate(messages())
    stub.CloseSession(node_pb2.CloseSessionRequest(query_id="direct-1"))
    # overlap + 3 gender bins + other + (count, sum, sum_sq) for visits: nothing per member.
    assert [(c.attribute, c.cell) for c in response.cells] == [
        ("", "overlap"),
        ("gender", "female"),
        ("gender", "male"),
        ("gender", "unknown"),
        ("gender", "other"),
        ("visits_12m", "count"),
        ("visits_12m", "sum"),
        ("visits_12m", "sum_sq"),
    ]
    assert all(len(c.ciphertext) == public_key.ciphertext_width for c in response.cells)
    overlap = brand_key.decrypt_signed(int.from_bytes(response.cells[0].ciphertext, "big"))
    gender_total = sum(
        brand_key.decrypt_signed(int.from_bytes(c.ciphertext, "big")) for c in response.cells[1:5]
    )
    assert overlap == len(chosen) == gender_total


def test_no_unblinding_outside_a_profile_query(deployment) -> None:  # type: ignore[no-untyped-def]
    """The unblind step is no oracle: outside a profile query it asks, a node unblinds neither
    another party's points nor its own (its own would be raw hash-to-group points), and the
    refusal ends the query at that node."""
    import grpc

    from protocols import ristretto
    from wire.streams import point_messages
    from wire.v1 import points_pb2

    nodes, _, _ = deployment
    node = nodes["retailer_a"]
    stub = node_pb2_grpc.PartyNodeStub(channel(node.address))
    point = ristretto.hash_to_point(b"email:someone@example.com")
    for index, set_owner in enumerate(("brand", "retailer_a")):
        query_id = f"unblind-{index}"
        stub.OpenSession(
            node_pb2.OpenSessionRequest(
                query_id=query_id,
                kind=node_pb2.QUERY_KIND_OVERLAP,
                id_type="email",
                profile_version=node.config.normalisation.label(),
                parties=["brand", "retailer_a"],
                role=node_pb2.SESSION_ROLE_MEMBER,
            )
        )
        header = points_pb2.StreamHeader(query_id=query_id, set_owner=set_owner, unblind=True)
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Reblind(point_messages(header, iter((point,)))))
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "member session" in (caught.value.details() or "")
        closed = stub.CloseSession(node_pb2.CloseSessionRequest(query_id=query_id))
        assert not closed.forgotten  # the refusal already ended the query here
