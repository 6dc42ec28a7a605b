"""Audiences of a profile: signed (old payloads still verify), allowed per partner by policy,
turned into the right 0/1 indicators, and bounded by |D| at the querier's plausibility check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from node.policy import PolicyRequest, load_policy
from protocols.indicators import audience_indicators
from protocols.plausibility import DecryptionTally, ImplausibleAggregate, OwnerTerms
from runtime.config_file import ConfigError
from runtime.signing import (
    MalformedQuery,
    QueryFields,
    SignedQuery,
    new_query_fields,
    sign_query,
    signed_audience,
    verify_query,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def fields(audience: str = "shared") -> QueryFields:
    return new_query_fields(
        "q1",
        "profile",
        "brand",
        ["brand", "retailer_a"],
        "email",
        owners=["retailer_a"],
        attributes=["age_band"],
        now=NOW,
        audience=audience,
    )


def test_a_shared_query_signs_the_bytes_it_signed_before_audiences_existed() -> None:
    payload = json.loads(fields().canonical_bytes())
    assert "audience" not in payload  # the payload of every query signed before this change
    key = Ed25519PrivateKey.generate()
    old = sign_query(fields(), key)
    assert verify_query(old, key.public_key(), NOW).audience == "shared"
    assert signed_audience(old.payload) == "shared"


def test_the_audience_is_signed_and_cannot_be_changed() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_query(fields("prospects"), key)
    assert verify_query(signed, key.public_key(), NOW).audience == "prospects"
    document = json.loads(signed.payload)
    document["audience"] = "base"
    forged = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(Exception, match="signature does not verify"):
        verify_query(SignedQuery(forged, signed.signature, "brand"), key.public_key(), NOW)
    # "shared" written out is not canonical, an unknown audience is malformed
    for bad in ("shared", "everyone"):
        document["audience"] = bad
        payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        with pytest.raises(MalformedQuery):
            signed_audience(payload)


def policy_file(tmp_path: Path, audiences: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[partners.brand]\nquery_kinds = ["overlap", "profile"]\nid_types = ["email"]\n'
        'attributes = ["age_band"]\nmin_cohort = 10\nmin_counterparty_set = 1\n'
        f"queries_per_day = 10\n{audiences}"
    )
    return path


def test_the_policy_allows_only_the_shared_audience_unless_it_names_more(tmp_path: Path) -> None:
    request = PolicyRequest("profile", "email", ("brand", "retailer_a"), ("age_band",))
    default = load_policy(policy_file(tmp_path, ""))
    assert default.terms("brand").audiences == frozenset({"shared"})
    assert default.check("brand", request).allowed
    refused = default.check("brand", PolicyRequest(**{**request.__dict__, "audience": "base"}))
    assert not refused.allowed
    assert refused.rule == "partners.brand.audiences"
    assert "audience base is not allowed for brand" in refused.message
    wider = load_policy(policy_file(tmp_path, 'audiences = ["shared", "prospects"]\n'))
    asks = PolicyRequest(**{**request.__dict__, "audience": "prospects"})
    assert wider.check("brand", asks).allowed
    with pytest.raises(ConfigError, match="'everyone' is not one of shared, prospects, base"):
        load_policy(policy_file(tmp_path, 'audiences = ["everyone"]\n'))


def test_indicators_mark_the_audience_and_nothing_else() -> None:
    matched = np.array([True, False, False, True, False])
    assert audience_indicators(matched, "shared").tolist() == matched.tolist()
    assert audience_indicators(matched, "prospects").tolist() == [False, True, True, False, True]
    assert audience_indicators(matched, "base").tolist() == [True] * 5
    with pytest.raises(ValueError, match="audience 'everyone'"):
        audience_indicators(matched, "everyone")


def test_prospects_are_bounded_by_the_owners_list_not_the_queriers() -> None:
    owner = OwnerTerms("retailer_a", set_size=400, epsilon=0.0)
    # 300 of the owner's 400 members lie outside a querier list of 100
    with pytest.raises(ImplausibleAggregate):
        DecryptionTally(querier_size=100).check_owner(owner, (), [("", "overlap")], [300])
    DecryptionTally(querier_size=100, audience_ceiling=1000).check_owner(
        owner, (), [("", "overlap")], [300]
    )
    # a coordinator naming a huge |D| widens the window only up to the querier's ceiling
    liar = OwnerTerms("retailer_a", set_size=10**9, epsilon=0.0)
    with pytest.raises(ImplausibleAggregate):
        DecryptionTally(querier_size=100, audience_ceiling=1000).check_owner(
            liar, (), [("", "overlap")], [5000]
        )


def test_expiry_is_unchanged_by_the_audience() -> None:
    late = NOW + timedelta(hours=1)
    key = Ed25519PrivateKey.generate()
    with pytest.raises(Exception, match="expired"):
        verify_query(sign_query(fields("base"), key), key.public_key(), late)
