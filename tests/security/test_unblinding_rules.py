"""The unblinding rules without the network: what the owner's signature binds, and the one-line
refusal (audited) when the querier's policy holds no key for the owner."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.identifiers import IdType
from connectors.members import LoadTally
from model.errors import GovernanceRefusal
from node.governance import Admission, NodeGovernance
from node.policy import Policy, load_policy
from node.sessions import QuerySession
from node.unblinding import Unblinding, reblinding_signed, sign_reblinding
from protocols import psi, ristretto
from runtime.audit import open_audit_log

KEY = Ed25519PrivateKey.generate()
POINTS = b"".join(ristretto.hash_to_point(f"email:m{i}@example.cn".encode()) for i in range(3))


def test_the_signature_binds_query_querier_owner_and_every_point() -> None:
    signature = sign_reblinding(KEY, "q-1", "brand", "retailer_a", POINTS)
    public = KEY.public_key()
    assert reblinding_signed(public, signature, "q-1", "brand", "retailer_a", POINTS)
    altered = psi.PsiParty.fresh().reblind(POINTS[:32]) + POINTS[32:]
    for query_id, querier, owner, points in (
        ("q-2", "brand", "retailer_a", POINTS),
        ("q-1", "retailer_b", "retailer_a", POINTS),
        ("q-1", "brand", "retailer_b", POINTS),
        ("q-1", "brand", "retailer_a", POINTS[:64]),
        ("q-1", "brand", "retailer_a", altered),
        ("q-1", "brand", "retailer_a", POINTS[32:] + POINTS[:32]),
    ):
        assert not reblinding_signed(public, signature, query_id, querier, owner, points)
    other = Ed25519PrivateKey.generate().public_key()
    assert not reblinding_signed(other, signature, "q-1", "brand", "retailer_a", POINTS)


def _querier_session() -> QuerySession:
    session = QuerySession(
        query_id="q-1",
        kind="profile",
        role="querier",
        id_type=IdType.EMAIL,
        parties=("brand", "retailer_a"),
        elements=[b"a", b"b", b"c"],
        report=LoadTally("brand.csv"),
    )
    session.admission = Admission(
        "q-1", "profile", "brand", session.parties, (), terms=None, query_key="k"
    )
    return session


def _policy(tmp_path: Path, listed: str) -> Policy:
    path = tmp_path / "brand.policy.toml"
    path.write_text(
        '[defaults]\nquery_kinds = ["overlap"]\nid_types = ["email"]\nmin_cohort = 1\n'
        f"min_counterparty_set = 1\nqueries_per_day = 10\n\n[partners.{listed}]\n"
    )
    return load_policy(path)


def test_a_querier_without_the_owners_key_refuses_naming_the_key(tmp_path: Path) -> None:
    audit = open_audit_log(str(tmp_path / "brand.audit.db"), party="brand")
    governance = NodeGovernance("brand", audit, _policy(tmp_path, "retailer_a"))
    rules = Unblinding("brand", governance, None)
    signature = sign_reblinding(KEY, "q-1", "brand", "retailer_a", POINTS)
    with pytest.raises(GovernanceRefusal) as caught:
        rules.check(_querier_session(), "brand", "retailer_a", signature, POINTS)
    message = str(caught.value)
    assert caught.value.rule == "partners.retailer_a.signing_key"
    assert "set partners.retailer_a.signing_key in" in message and "brand.policy.toml" in message
    assert "\n" not in message
    [record] = [r.record for r in audit.records(query_id="q-1")]
    assert (record.decision, record.rule, record.error) == (
        "refused",
        "partners.retailer_a.signing_key",
        message,
    )
    audit.close()


def test_without_a_policy_every_check_but_the_signature_applies() -> None:
    """`insecure_no_policy` nodes have no partner keys; the role, set, owner, size and
    once-per-owner checks still hold."""
    rules = Unblinding("brand", NodeGovernance("brand", audit=None), None)
    rules.check(_querier_session(), "brand", "retailer_a", b"", POINTS)
    for set_owner, owner, points, reason in (
        ("retailer_a", "retailer_a", POINTS, "own set only"),
        ("brand", "brand", POINTS, "not one"),
        ("brand", "retailer_b", POINTS, "not one"),
        ("brand", "retailer_a", POINTS[:64], "exactly its own 3 points"),
    ):
        with pytest.raises(GovernanceRefusal, match=reason):
            rules.check(_querier_session(), set_owner, owner, b"", points)
    session = _querier_session()
    rules.check(session, "brand", "retailer_a", b"", POINTS)
    with pytest.raises(GovernanceRefusal, match="once per owner"):
        rules.check(session, "brand", "retailer_a", b"", POINTS)
