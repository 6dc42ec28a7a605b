"""Accepting an agreement: the policy key, the signed hash, the policy's verdict.

Queries for no agreement sign the same bytes as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from model.errors import NotPermitted
from node.policy import PolicyRequest, load_policy
from runtime.config_file import ConfigError
from runtime.signing import MalformedQuery, new_query_fields, sign_query, verify_query

ACCEPTED = "a" * 64
OTHER = "b" * 64
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

POLICY = """[partners.brand]
signing_key = ""
query_kinds = ["overlap", "profile"]
id_types = ["email"]
min_cohort = 10
min_counterparty_set = 100
queries_per_day = 10
agreements = [{hashes}]
"""


def _policy(tmp_path: Path, hashes: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.format(hashes=hashes))
    return path


def test_the_policy_names_accepted_agreement_hashes(tmp_path: Path) -> None:
    policy = load_policy(_policy(tmp_path, f'"{ACCEPTED}"'))
    assert policy.terms("brand").agreements == {ACCEPTED}
    request = PolicyRequest("overlap", "email", ("brand", "retailer_a"), node="retailer_a")
    assert policy.check("brand", request).allowed  # a query for no agreement
    accepted = PolicyRequest(
        "overlap", "email", ("brand", "retailer_a"), node="retailer_a", agreement=ACCEPTED
    )
    assert policy.check("brand", accepted).allowed
    other = PolicyRequest(
        "overlap", "email", ("brand", "retailer_a"), node="retailer_a", agreement=OTHER
    )
    decision = policy.check("brand", other)
    assert not decision.allowed and decision.kind is NotPermitted
    assert decision.rule == "partners.brand.agreements"
    assert decision.message == (
        f"agreement {OTHER} is not accepted by retailer_a for brand; add its hash to "
        "partners.brand.agreements to accept it"
    )


def test_a_malformed_hash_in_the_policy_is_one_line(tmp_path: Path) -> None:
    path = _policy(tmp_path, '"brand-retail-autumn"')
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    assert str(error.value).startswith(f"{path} [partners.brand].agreements: 'brand-retail-autumn'")
    assert "gongying settle check --agreement FILE" in str(error.value)


def test_the_agreement_is_signed_and_absent_otherwise() -> None:
    key = Ed25519PrivateKey.generate()
    plain = new_query_fields("q1", "overlap", "brand", ["brand", "retailer_a"], "email", now=NOW)
    assert "agreement" not in json.loads(plain.canonical_bytes())
    fields = new_query_fields(
        "q2", "overlap", "brand", ["brand", "retailer_a"], "email", now=NOW, agreement=ACCEPTED
    )
    signed = sign_query(fields, key)
    assert json.loads(signed.payload)["agreement"] == ACCEPTED
    verified = verify_query(signed, key.public_key(), NOW + timedelta(minutes=1))
    assert verified.agreement == ACCEPTED
    # the coordinator cannot swap the agreement: the signature covers it
    swapped = signed.payload.replace(ACCEPTED.encode(), OTHER.encode())
    forged = type(signed)(swapped, signed.signature, signed.signer)
    with pytest.raises(Exception, match="signature does not verify"):
        verify_query(forged, key.public_key(), NOW + timedelta(minutes=1))


def test_a_signed_agreement_that_is_no_hash_is_malformed() -> None:
    key = Ed25519PrivateKey.generate()
    fields = new_query_fields(
        "q3", "overlap", "brand", ["brand"], "email", now=NOW, agreement="not-a-hash"
    )
    with pytest.raises(MalformedQuery, match="is not a SHA-256 hex digest"):
        verify_query(sign_query(fields, key), key.public_key(), NOW)
