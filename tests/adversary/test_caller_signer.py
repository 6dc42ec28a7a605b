"""Certificate vs signer (issue 12 #5): the coordinator admits a query only when the caller's
certificate names its signer, or names a client that coordinator.toml lets act for it, so a
result goes only to the party that signed the query. Refusals are audited; no node is asked."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from client.sdk import QueryError
from coordinator.config import load_coordinator_config
from runtime.certs import COORDINATOR
from runtime.config_file import ConfigError
from tests.adversary.deviating import (
    ANALYST,
    BRAND,
    OWNERS,
    PROFILE_ATTRIBUTES,
    RETAILER_A,
    Deployment,
)


def _id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _refused_at_the_coordinator(deployment: Deployment, query_id: str, requester: str) -> None:
    records = deployment.records(COORDINATOR, query_id)
    assert [(r.record.decision, r.record.requester) for r in records] == [("refused", requester)]
    assert records[0].record.rule == "PERMISSION_DENIED"
    for party in deployment.nodes:  # refused before any node was asked
        assert deployment.records(party, query_id) == []


def test_a_partners_certificate_cannot_submit_a_query_the_brand_signed(
    deployment: Deployment,
) -> None:
    for kind in ("overlap", "profile"):
        query_id = _id(f"borrowed-{kind}")
        with deployment.client(RETAILER_A, signer=BRAND) as client, pytest.raises(QueryError) as e:
            if kind == "overlap":
                client.overlap([BRAND, RETAILER_A], query_id=query_id)
            else:
                client.profile(BRAND, [RETAILER_A], list(PROFILE_ATTRIBUTES), query_id=query_id)
        assert e.value.code == "PERMISSION_DENIED"
        message = str(e.value)
        assert "certificate names 'retailer_a'" in message and "signed by 'brand'" in message
        assert "\n" not in message
        _refused_at_the_coordinator(deployment, query_id, "retailer_a for brand")


def test_an_unsigned_profile_goes_only_to_the_callers_own_querier(deployment: Deployment) -> None:
    query_id = _id("unsigned")
    with (
        deployment.client(RETAILER_A, signer=BRAND) as client,
        pytest.raises(QueryError) as caught,
    ):
        client.signer = None
        client.profile(BRAND, [RETAILER_A], list(PROFILE_ATTRIBUTES), query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "asked for 'brand'" in str(caught.value)
    _refused_at_the_coordinator(deployment, query_id, "retailer_a for brand")


def test_a_client_listed_to_act_for_the_brand_gets_the_brands_answer(
    deployment: Deployment,
) -> None:
    query_id = _id("acting")
    with deployment.client(ANALYST, signer=BRAND) as client:
        result = client.overlap([BRAND, *OWNERS], query_id=query_id)
    assert result.all_parties is not None and result.all_parties > 0
    records = deployment.records(COORDINATOR, query_id)
    assert [(r.record.decision, r.record.requester) for r in records] == [
        ("released", "analyst for brand")
    ]
    # signing as itself, the analyst reaches the nodes, which do not list it
    with deployment.client(ANALYST, signer=ANALYST) as client, pytest.raises(QueryError) as e:
        client.overlap([BRAND, RETAILER_A])
    assert e.value.code == "PERMISSION_DENIED" and "not listed" in str(e.value)


def test_acting_for_names_only_listed_clients(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    base = 'listen = "127.0.0.1:0"\nclients = ["analyst"]\n'
    parties = '[parties]\nbrand = "127.0.0.1:1"\nretailer_a = "127.0.0.1:2"\n'
    path.write_text(base + '[acting_for]\nanalyst = ["brand"]\n' + parties)
    config = load_coordinator_config(path)
    assert config.signers_for("analyst") == {"analyst", "brand"}
    assert config.signers_for("retailer_a") == {"retailer_a"}
    path.write_text(base + '[acting_for]\nintern = ["brand"]\n' + parties)
    with pytest.raises(ConfigError, match=r"\[acting_for\]\.intern: 'intern' is not in clients"):
        load_coordinator_config(path)
