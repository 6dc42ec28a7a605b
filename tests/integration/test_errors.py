"""Failed queries: the right status code, a message naming the problem, no result, no session."""

from __future__ import annotations

import time

import pytest

from client.sdk import CoordinatorClient, QueryError
from tests.integration.deployment import Deployment


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> CoordinatorClient:
    return CoordinatorClient(deployment.address)


def _fails(client: CoordinatorClient, parties: list[str], id_type: str = "email") -> QueryError:
    result = None
    with pytest.raises(QueryError) as caught:
        result = client.overlap(parties, id_type, timeout=30)
    assert result is None
    return caught.value


@pytest.mark.parametrize("first", [True, False])
def test_missing_data_file(deployment: Deployment, client: CoordinatorClient, first: bool) -> None:
    parties = ["nofile", "brand", "retailer_a"] if first else ["brand", "retailer_a", "nofile"]
    error = _fails(client, parties)
    assert error.code == "FAILED_PRECONDITION"
    assert "nofile" in str(error)
    assert "no-such-members.csv" in str(error)
    assert "not found" in str(error)
    assert deployment.open_sessions() == dict.fromkeys(deployment.nodes, 0)


def test_missing_identifier_column(deployment: Deployment, client: CoordinatorClient) -> None:
    error = _fails(client, ["brand", "nocolumn"])
    assert error.code == "FAILED_PRECONDITION"
    assert "nocolumn" in str(error)
    assert "'e_mail'" in str(error)
    assert "brand.csv" in str(error)  # the source it looked in
    assert "'email'" in str(error)  # the columns that are there


def test_unreachable_node(deployment: Deployment, client: CoordinatorClient) -> None:
    address = deployment.extra_addresses["ghost"]
    started = time.monotonic()
    error = _fails(client, ["brand", "ghost", "retailer_a"])
    assert time.monotonic() - started < 20
    assert error.code == "UNAVAILABLE"
    assert "ghost" in str(error)
    assert address in str(error)
    assert "unreachable" in str(error)
    assert deployment.open_sessions() == dict.fromkeys(deployment.nodes, 0)


def test_unknown_party(client: CoordinatorClient) -> None:
    error = _fails(client, ["brand", "nobody"])
    assert error.code == "INVALID_ARGUMENT"
    assert "'nobody'" in str(error)
    for known in ("brand", "retailer_a", "retailer_b", "ghost"):
        assert known in str(error)


def test_id_type_without_a_column(client: CoordinatorClient) -> None:
    error = _fails(client, ["brand", "retailer_a"], id_type="member_id")
    assert error.code == "FAILED_PRECONDITION"
    assert "member_id" in str(error)
    assert "no identifier column" in str(error)
    assert "brand" in str(error) or "retailer_a" in str(error)


def test_unknown_id_type(client: CoordinatorClient) -> None:
    error = _fails(client, ["brand", "retailer_a"], id_type="fax")
    assert error.code == "INVALID_ARGUMENT"
    assert "'fax'" in str(error)
    assert "email" in str(error) and "phone" in str(error)


@pytest.mark.parametrize(
    "parties, needle",
    [(["brand"], "2 to 16 parties"), (["brand", "brand"], "named twice"), ([], "2 to 16")],
)
def test_bad_party_lists(client: CoordinatorClient, parties: list[str], needle: str) -> None:
    error = _fails(client, parties)
    assert error.code == "INVALID_ARGUMENT"
    assert needle in str(error)


def test_queries_work_after_failures(deployment: Deployment, client: CoordinatorClient) -> None:
    _fails(client, ["nofile", "brand"])
    result = client.overlap(["brand", "retailer_b"], "email")
    assert result.pair("brand", "retailer_b") == deployment.truth(
        ["brand", "retailer_b"], "email"
    ).pair("brand", "retailer_b")


def test_unreachable_coordinator() -> None:
    from gongying.launch import free_port

    address = f"127.0.0.1:{free_port()}"
    with CoordinatorClient(address) as dead, pytest.raises(QueryError) as caught:
        dead.overlap(["brand", "retailer_a"], "email", timeout=10)
    assert caught.value.code == "UNAVAILABLE"
    assert address in str(caught.value)
