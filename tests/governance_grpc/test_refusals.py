"""Every refusal path over real gRPC with mTLS: status, rule named, nothing released, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from client.sdk import QueryError
from runtime.certs import COORDINATOR
from runtime.signing import load_signing_key, new_query_fields, sign_query
from tests.governance_grpc.conftest import (
    ANALYST,
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    Expected,
    Governed,
    open_request,
    rpc_code,
)
from wire.v1 import coordinator_pb2, node_pb2, query_pb2


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def assert_refused(
    governed: Governed,
    query_id: str,
    parties: tuple[str, ...],
    refusing: tuple[str, ...],
    rule: str,
    via_coordinator: bool = True,
    asked: tuple[str, ...] | None = None,
) -> None:
    """The refusing nodes logged a `refused` record naming `rule`; nothing was released
    anywhere; no session is left open; the coordinator logged the query as not released.
    `asked`: the nodes asked at all (the querier's own node opens first and alone)."""
    for party in refusing:
        records = governed.records(party, query_id)
        assert [r.record.decision for r in records] == ["refused"], (party, records)
        assert records[0].record.rule == rule
        assert records[0].record.error
        assert records[0].record.epsilon == 0.0
    for party in PARTIES:
        assert all(r.record.decision != "released" for r in governed.records(party, query_id))
    coordinator = governed.records(COORDINATOR, query_id)
    if via_coordinator:
        assert len(coordinator) == 1
        assert coordinator[0].record.decision in ("refused", "failed")
        assert coordinator[0].record.released == {}
    else:
        assert coordinator == []
    assert governed.open_sessions() == {p: 0 for p in PARTIES}
    governed.expect(
        Expected(
            query_id,
            parties,
            "refused",
            refusing,
            rule,
            via_coordinator=via_coordinator,
            asked=asked,
        )
    )


def test_an_allowed_overlap_is_released_and_audited_everywhere(governed: Governed) -> None:
    query_id = new_id("allowed")
    with governed.client(BRAND) as client:
        result = client.overlap([BRAND, RETAILER_B], query_id=query_id)
    assert result.all_parties == 10
    for party in (BRAND, RETAILER_B, COORDINATOR):
        assert [r.record.decision for r in governed.records(party, query_id)] == ["released"]
    assert governed.records(RETAILER_A, query_id) == []
    governed.expect(Expected(query_id, (BRAND, RETAILER_B), "released"))


def test_unlisted_partner_is_refused_by_every_node(governed: Governed) -> None:
    query_id = new_id("unlisted")
    with governed.client(ANALYST) as client, pytest.raises(QueryError) as caught:
        client.overlap([BRAND, RETAILER_A], query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "analyst" in str(caught.value) and "not listed" in str(caught.value)
    assert_refused(governed, query_id, (BRAND, RETAILER_A), (BRAND, RETAILER_A), "partners")


def test_query_kind_not_allowed(governed: Governed) -> None:
    query_id = new_id("kind")
    with governed.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.profile(BRAND, [RETAILER_B], ["age_band"], query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "query kind profile is not allowed for brand" in str(caught.value)
    assert "retailer_b" in str(caught.value)
    assert_refused(
        governed, query_id, (BRAND, RETAILER_B), (RETAILER_B,), "partners.brand.query_kinds"
    )
    # brand's own querier session was opened, then settled as failed (nothing charged)
    assert [r.record.decision for r in governed.records(BRAND, query_id)] == ["failed"]


def test_id_type_not_allowed(governed: Governed) -> None:
    query_id = new_id("idtype")
    with governed.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.overlap([BRAND, RETAILER_A], id_type="phone", query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "id type phone is not allowed for brand" in str(caught.value)
    assert_refused(
        governed, query_id, (BRAND, RETAILER_A), (RETAILER_A,), "partners.brand.id_types"
    )


def test_attribute_not_allowed(governed: Governed) -> None:
    query_id = new_id("attribute")
    with governed.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.profile(BRAND, [RETAILER_A], ["age_band", "income"], query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "attribute income is not allowed for brand" in str(caught.value)
    assert_refused(
        governed, query_id, (BRAND, RETAILER_A), (RETAILER_A,), "partners.brand.attributes"
    )


def test_counterparty_set_below_minimum(governed: Governed) -> None:
    """brand holds 40 phone numbers; retailer_b intersects only with sets of 100 or more."""
    query_id = new_id("counterparty")
    with governed.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.overlap([BRAND, RETAILER_B], id_type="phone", query_id=query_id)
    assert caught.value.code == "FAILED_PRECONDITION"
    assert "retailer_b will not intersect with the set of brand (40 members)" in str(caught.value)
    assert_refused(
        governed,
        query_id,
        (BRAND, RETAILER_B),
        (RETAILER_B,),
        "partners.brand.min_counterparty_set",
    )


def test_queries_per_day_exhausted(governed: Governed) -> None:
    """brand answers retailer_a twice a day; the third query is refused, and logged."""
    used = governed.ledger(BRAND).usage(RETAILER_A).queries_today
    assert used == 0
    with governed.client(RETAILER_A) as client:
        for _ in range(2):
            query_id = new_id("rate-ok")
            client.overlap([RETAILER_A, BRAND], query_id=query_id)
            governed.expect(Expected(query_id, (RETAILER_A, BRAND), "released"))
        query_id = new_id("rate")
        with pytest.raises(QueryError) as caught:
            client.overlap([RETAILER_A, BRAND], query_id=query_id)
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert "rate limit reached for retailer_a: queries_per_day 2" in str(caught.value)
    assert governed.ledger(BRAND).usage(RETAILER_A).queries_today == 2
    assert_refused(
        governed,
        query_id,
        (RETAILER_A, BRAND),
        (BRAND,),
        "partners.retailer_a.queries_per_day",
    )


def test_unsigned_query(governed: Governed) -> None:
    query_id = new_id("unsigned")
    with governed.client(BRAND, signed=False) as client, pytest.raises(QueryError) as caught:
        client.overlap([BRAND, RETAILER_A], query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "not signed by its querier" in str(caught.value)
    assert_refused(governed, query_id, (BRAND, RETAILER_A), (BRAND, RETAILER_A), "signed_query")


def test_query_signed_by_another_key(governed: Governed) -> None:
    """brand's name on the query, retailer_a's key under it."""
    query_id = new_id("forged")
    with governed.client(BRAND) as client:
        client.signer = governed.signer(BRAND, key_of=RETAILER_A)
        with pytest.raises(QueryError) as caught:
            client.overlap([BRAND, RETAILER_A], query_id=query_id)
    assert caught.value.code == "PERMISSION_DENIED"
    assert "signature does not verify" in str(caught.value)
    # brand's own node, opened first, refuses: retailer_a is never asked
    assert_refused(
        governed, query_id, (BRAND, RETAILER_A), (BRAND,), "signed_query", asked=(BRAND,)
    )


def test_replayed_query_is_refused_by_every_node(governed: Governed) -> None:
    """The same SignedQuery sent twice: released once, then refused as a replay by the
    querier's own node, which is opened first (retailer_b is not asked again)."""
    query_id = new_id("replay")
    parties = [BRAND, RETAILER_B]
    request = coordinator_pb2.OverlapRequest(query_id=query_id, parties=parties, id_type="email")
    request.signed.CopyFrom(governed.signer(BRAND).sign(query_id, "overlap", parties, "email"))
    stub = governed.coordinator_stub(BRAND)
    first = stub.RunOverlap(request, timeout=60)
    assert first.query_id == query_id
    with pytest.raises(grpc.RpcError) as caught:
        stub.RunOverlap(request, timeout=60)
    assert rpc_code(caught.value) == grpc.StatusCode.PERMISSION_DENIED
    assert "was already used" in str(caught.value)
    decisions = [r.record.decision for r in governed.records(BRAND, query_id)]
    assert decisions == ["released", "refused"]
    assert governed.records(BRAND, query_id)[1].record.rule == "signed_query"
    assert [r.record.decision for r in governed.records(RETAILER_B, query_id)] == ["released"]
    coordinator = [r.record.decision for r in governed.records(COORDINATOR, query_id)]
    assert coordinator == ["released", "refused"]
    assert governed.open_sessions() == {p: 0 for p in PARTIES}
    governed.expect(Expected(query_id, tuple(parties), "released"))


def test_replay_sent_to_a_node_directly(governed: Governed) -> None:
    """Whoever holds the coordinator's certificate still cannot reuse a signed query."""
    query_id = new_id("replay-direct")
    parties = [BRAND, RETAILER_A]
    request = open_request(query_id, parties)
    request.signed.CopyFrom(governed.signer(BRAND).sign(query_id, "overlap", parties, "email"))
    stub = governed.node_stub(RETAILER_A)
    opened = stub.OpenSession(request, timeout=30)
    assert opened.party == RETAILER_A
    # the first use is settled as failed: nothing released
    stub.CloseSession(
        node_pb2.CloseSessionRequest(query_id=query_id, outcome="failed", error="test"),
        timeout=30,
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.OpenSession(request, timeout=30)
    assert rpc_code(caught.value) == grpc.StatusCode.PERMISSION_DENIED
    assert "was already used" in str(caught.value)
    decisions = [r.record.decision for r in governed.records(RETAILER_A, query_id)]
    assert decisions == ["failed", "refused"]
    assert governed.records(RETAILER_A, query_id)[1].record.rule == "signed_query"
    governed.expect(
        Expected(
            query_id,
            tuple(parties),
            "refused",
            (RETAILER_A,),
            "signed_query",
            via_coordinator=False,
        )
    )


def test_expired_query(governed: Governed) -> None:
    query_id = new_id("expired")
    parties = [BRAND, RETAILER_A]
    fields = new_query_fields(
        query_id, "overlap", BRAND, parties, "email", now=datetime.now(UTC) - timedelta(hours=1)
    )
    signed = sign_query(fields, load_signing_key(governed.certs.parties[BRAND].sign_key))
    request = coordinator_pb2.OverlapRequest(query_id=query_id, parties=parties, id_type="email")
    request.signed.CopyFrom(
        query_pb2.SignedQuery(
            payload=signed.payload, signature=signed.signature, signer=signed.signer
        )
    )
    with pytest.raises(grpc.RpcError) as caught:
        governed.coordinator_stub(BRAND).RunOverlap(request, timeout=60)
    assert rpc_code(caught.value) == grpc.StatusCode.PERMISSION_DENIED
    assert "expired at" in str(caught.value)
    assert_refused(
        governed, query_id, (BRAND, RETAILER_A), (BRAND,), "signed_query", asked=(BRAND,)
    )


def test_request_altered_after_signing(governed: Governed) -> None:
    """The coordinator (here: a direct call with its certificate) asks for phone numbers,
    while brand signed a query on email addresses."""
    query_id = new_id("altered")
    parties = [BRAND, RETAILER_A]
    request = open_request(query_id, parties, id_type="phone")
    request.signed.CopyFrom(governed.signer(BRAND).sign(query_id, "overlap", parties, "email"))
    with pytest.raises(grpc.RpcError) as caught:
        governed.node_stub(RETAILER_A).OpenSession(request, timeout=30)
    assert rpc_code(caught.value) == grpc.StatusCode.PERMISSION_DENIED
    details = str(caught.value)
    assert "differs from what brand signed: id_type" in details
    assert_refused(
        governed, query_id, tuple(parties), (RETAILER_A,), "signed_query", via_coordinator=False
    )
