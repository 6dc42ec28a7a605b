"""Overlap queries over real gRPC on loopback equal the plaintext truth."""

from __future__ import annotations

import pytest

from client.sdk import CoordinatorClient
from tests.integration.deployment import Deployment, assert_equals_truth, file_truth

ALL = ["brand", "retailer_a", "retailer_b"]


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> CoordinatorClient:
    return CoordinatorClient(deployment.address)


def test_oracles_agree(deployment: Deployment) -> None:
    """The generator's construction truth equals the truth computed from the CSV files."""
    for id_type in ("email", "phone"):
        assert deployment.truth(ALL, id_type) == file_truth(deployment.csv_paths, id_type)


@pytest.mark.parametrize("id_type", ["email", "phone"])
def test_three_parties_equal_the_truth(
    deployment: Deployment, client: CoordinatorClient, id_type: str
) -> None:
    result = client.overlap(ALL, id_type, query_id=f"all-{id_type}")
    truth = deployment.truth(ALL, id_type)
    assert truth.all_parties > 0 and all(n > 0 for n in truth.pairwise.values())
    assert_equals_truth(result, truth, ALL)
    assert result.query_id == f"all-{id_type}"
    assert result.id_type == id_type
    assert deployment.open_sessions() == dict.fromkeys(deployment.nodes, 0)


@pytest.mark.parametrize(
    "parties",
    [
        ["brand", "retailer_a"],
        ["retailer_b", "brand"],
        ["retailer_a", "retailer_b"],
        ["retailer_b", "retailer_a", "brand"],
    ],
)
def test_subsets_and_orders_equal_the_truth(
    deployment: Deployment, client: CoordinatorClient, parties: list[str]
) -> None:
    result = client.overlap(parties, "email")
    assert_equals_truth(result, deployment.truth(parties, "email"), parties)
    assert result.query_id  # the coordinator names an unnamed query
    assert deployment.open_sessions() == dict.fromkeys(deployment.nodes, 0)


def test_load_reports_account_for_every_row(
    deployment: Deployment, client: CoordinatorClient
) -> None:
    result = client.overlap(ALL, "email")
    loads = {load.party: load for load in result.loads}
    assert set(loads) == set(ALL)
    for party, load in loads.items():
        assert load.rows_read == deployment.data.rows[party]
        assert load.accepted == result.set_sizes[party]
        assert load.accepted + load.duplicates + sum(load.invalid.values()) == load.rows_read
        assert load.duplicates > 0  # the generator repeats some persons' rows
    assert "csv" in loads["brand"].source
    assert "parquet" in loads["retailer_a"].source
    assert "sql" in loads["retailer_b"].source


def test_repeated_query_gives_the_same_counts(client: CoordinatorClient) -> None:
    first = client.overlap(ALL, "phone")
    second = client.overlap(ALL, "phone")
    assert first.query_id != second.query_id
    assert (first.regions, first.pairwise, first.set_sizes) == (
        second.regions,
        second.pairwise,
        second.set_sizes,
    )


def test_parties_are_listed(deployment: Deployment, client: CoordinatorClient) -> None:
    listed = client.parties()
    assert {p: listed[p] for p in deployment.nodes} == {
        p: n.address for p, n in deployment.nodes.items()
    }
    assert listed["ghost"] == deployment.extra_addresses["ghost"]
