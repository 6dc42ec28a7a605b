"""Charging that a querier cannot dodge (issue 11 #5, #10; issue 12 #4), over gRPC with mTLS:
a node's epsilon is charged the moment its contribution leaves it, whatever happens next;
every admitted query counts; windows roll."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from client.sdk import QueryError
from model.errors import QueryRefused
from protocols.ristretto import hash_to_point
from runtime.signing import load_signing_key, new_query_fields, sign_query
from tests.governance_grpc.conftest import (
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    Governed,
    open_request,
    rpc_code,
)
from wire.streams import point_messages
from wire.v1 import node_pb2, points_pb2, query_pb2


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@contextmanager
def brand_node_that_aborts_after_decrypting(deployment: Governed) -> Iterator[list[list[int]]]:
    """The brand's node, modified: it decrypts the owners' aggregates, keeps the plaintexts,
    then fails the call (as a querier that wants to dodge the charge would)."""
    decryption = deployment.nodes[BRAND].service.decryption
    assert decryption is not None
    original = decryption.decrypt
    kept: list[list[int]] = []

    def decrypt_and_abort(*args: Any, **kwargs: Any) -> list[int]:
        kept.append(original(*args, **kwargs))
        raise QueryRefused("brand's node aborts after decrypting")

    decryption.decrypt = decrypt_and_abort  # type: ignore[method-assign]
    try:
        yield kept
    finally:
        decryption.decrypt = original  # type: ignore[method-assign]


def test_aborting_after_decrypting_is_charged_and_the_budget_runs_out_on_time(
    capped: Governed,
) -> None:
    """retailer_a's budget for brand pays 3 profiles (0.5 of 1.5). A brand node that keeps its
    decryptions and aborts is charged and counted each time; the 4th query is refused."""
    ledger = capped.ledger(RETAILER_A)
    before = ledger.usage(BRAND)
    affordable = round((before.budget - before.spent) / 0.5)
    assert affordable == 3, "the test expects retailer_a's budget for brand untouched"
    with brand_node_that_aborts_after_decrypting(capped) as kept:
        for n in range(affordable):
            query_id = new_id("abort")
            with capped.client(BRAND) as client, pytest.raises(QueryError) as caught:
                client.profile(BRAND, [RETAILER_A], ["age_band"], query_id=query_id)
            assert "aborts after decrypting" in str(caught.value)
            assert len(kept) == n + 1  # the querier's node did read a noised answer
            usage = ledger.usage(BRAND)
            assert usage.spent == pytest.approx(before.spent + 0.5 * (n + 1))
            assert usage.queries_today == before.queries_today + n + 1
            assert usage.reserved == 0.0
            records = [r.record for r in capped.records(RETAILER_A, query_id)]
            assert [(r.decision, r.epsilon) for r in records] == [("failed", 0.5)]
        with capped.client(BRAND) as client, pytest.raises(QueryError) as caught:
            client.profile(BRAND, [RETAILER_A], ["age_band"], query_id=new_id("over"))
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert "privacy budget exhausted for brand" in str(caught.value)
    assert len(kept) == affordable  # no fourth answer reached the brand
    assert capped.open_sessions() == {p: 0 for p in PARTIES}


def _signed(
    deployment: Governed, querier: str, query_id: str, parties: list[str], at: datetime
) -> query_pb2.SignedQuery:
    fields = new_query_fields(query_id, "overlap", querier, parties, "email", now=at)
    signed = sign_query(fields, load_signing_key(deployment.certs.parties[querier].sign_key))
    return query_pb2.SignedQuery(
        payload=signed.payload, signature=signed.signature, signer=signed.signer
    )


@contextmanager
def node_clock(deployment: Governed, party: str, at: list[datetime]) -> Iterator[None]:
    """The node's governance clock reads at[0] (the test moves it)."""
    governance = deployment.nodes[party].service.governance
    original = governance.clock
    governance.clock = lambda: at[0]
    try:
        yield
    finally:
        governance.clock = original


def _open(deployment: Governed, node: str, querier: str, at: datetime) -> str:
    """The coordinator's OpenSession at `node` for `querier`'s overlap, signed at `at`."""
    query_id = new_id("direct")
    parties = [querier, node]
    request = open_request(query_id, parties)
    request.signed.CopyFrom(_signed(deployment, querier, query_id, parties, at))
    deployment.node_stub(node).OpenSession(request, timeout=30)
    return query_id


def _stream_own_set(deployment: Governed, node: str, query_id: str) -> int:
    stub = deployment.node_stub(node)
    messages = list(stub.StreamOwnSet(node_pb2.StreamOwnSetRequest(query_id=query_id), timeout=30))
    return sum(len(m.chunk.points) // 32 for m in messages if m.HasField("chunk"))


def _close_failed(deployment: Governed, node: str, query_id: str) -> None:
    deployment.node_stub(node).CloseSession(
        node_pb2.CloseSessionRequest(query_id=query_id, outcome="failed", error="querier left"),
        timeout=30,
    )


def _refusal(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_close_failed_refunds_only_before_the_set_left_and_the_window_rolls(
    capped: Governed,
) -> None:
    """brand's node answers retailer_b with 0.5 of 1.0 per 30 days. CloseSession(failed)
    refunds a query whose set never left; once the set was streamed, it is charged for good,
    and the spent budget does not come back the next day, only 30 days after each charge."""
    t0 = datetime.now(UTC) + timedelta(days=400)  # a stretch of time no other test uses
    clock = [t0]
    ledger = capped.ledger(BRAND)
    with node_clock(capped, BRAND, clock):
        refunded = _open(capped, BRAND, RETAILER_B, t0)
        _close_failed(capped, BRAND, refunded)
        assert ledger.usage(RETAILER_B, t0).spent == 0.0
        assert ledger.usage(RETAILER_B, t0).queries_today == 1  # counted nonetheless
        for minutes in (1, 2):
            clock[0] = t0 + timedelta(minutes=minutes)
            query_id = _open(capped, BRAND, RETAILER_B, clock[0])
            assert _stream_own_set(capped, BRAND, query_id) >= 300  # (+1 after the F+1 test)
            _close_failed(capped, BRAND, query_id)
            record = capped.records(BRAND, query_id)[-1].record
            assert (record.decision, record.epsilon) == ("failed", 0.5)
        assert ledger.usage(RETAILER_B, clock[0]).spent == 1.0
        for later in (timedelta(days=1), timedelta(days=29, hours=23)):
            clock[0] = t0 + later
            error = _refusal(lambda: _open(capped, BRAND, RETAILER_B, clock[0]))
            assert rpc_code(error) == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "privacy budget exhausted for retailer_b" in str(error)
        clock[0] = t0 + timedelta(days=30, minutes=1, seconds=30)  # the first charge rolled off
        _close_failed(capped, BRAND, _open(capped, BRAND, RETAILER_B, clock[0]))
    assert capped.open_sessions()[BRAND] == 0


def test_queries_per_day_counts_failed_queries_over_a_rolling_day(capped: Governed) -> None:
    """brand's node answers retailer_a 2 queries a day (exactly). Two queries that fail still
    use the day; the third is refused until 24 hours after the first, not at UTC midnight."""
    t0 = datetime(2031, 5, 1, 23, 0, tzinfo=UTC)
    clock = [t0]
    with node_clock(capped, BRAND, clock):
        for minutes in (0, 1):
            clock[0] = t0 + timedelta(minutes=minutes)
            _close_failed(capped, BRAND, _open(capped, BRAND, RETAILER_A, clock[0]))
        for later in (timedelta(hours=2), timedelta(hours=23, minutes=59)):  # past midnight
            clock[0] = t0 + later
            error = _refusal(lambda: _open(capped, BRAND, RETAILER_A, clock[0]))
            assert rpc_code(error) == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "rate limit reached for retailer_a: queries_per_day 2" in str(error)
        clock[0] = t0 + timedelta(hours=24, seconds=30)
        _close_failed(capped, BRAND, _open(capped, BRAND, RETAILER_A, clock[0]))
    refused = [
        r.record
        for r in capped.audit(BRAND).records()
        if r.record.rule == "partners.retailer_a.queries_per_day"
    ]
    assert len(refused) >= 2 and all(r.decision == "refused" for r in refused)


def test_the_minimum_counterparty_set_is_checked_on_the_points_received(capped: Governed) -> None:
    """brand's set is announced by no one: retailer_b counts the points it receives for
    brand's set (10 here, min_counterparty_set 50) and refuses before re-blinding any back."""
    query_id = _open(capped, RETAILER_B, BRAND, datetime.now(UTC))
    points = b"".join(hash_to_point(os.urandom(16)) for _ in range(10))
    header = points_pb2.StreamHeader(query_id=query_id, set_owner=BRAND)
    replies: list[points_pb2.PointMessage] = []

    def reblind() -> None:
        stub = capped.node_stub(RETAILER_B)
        replies.extend(stub.Reblind(point_messages(header, iter((points,))), timeout=30))

    error = _refusal(reblind)
    assert rpc_code(error) == grpc.StatusCode.FAILED_PRECONDITION
    assert "will not intersect with the set of brand (10 members)" in str(error)
    assert not any(m.HasField("chunk") for m in replies)
    record = capped.records(RETAILER_B, query_id)[-1].record
    assert (record.decision, record.rule) == ("refused", "partners.brand.min_counterparty_set")
    assert record.epsilon == 0.0  # nothing of retailer_b's had left: refunded, still counted
    _close_failed(capped, RETAILER_B, query_id)
