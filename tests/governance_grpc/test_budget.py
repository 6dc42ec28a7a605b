"""The privacy budget under concurrent queries: no overspend; failed queries still count."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import permutations

import pytest

from client.sdk import QueryError
from model.results import OverlapResult
from runtime.certs import COORDINATOR
from tests.governance_grpc.conftest import (
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    Expected,
    Governed,
)


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def test_budget_for_three_answers_six_concurrent_queries(governed: Governed) -> None:
    """retailer_a's budget for retailer_b pays for 3 noised answers (0.5 of 1.5); six distinct
    three-party questions at once: exactly 3 are released, 3 are RESOURCE_EXHAUSTED."""
    ledger = governed.ledger(RETAILER_A)
    assert ledger.usage(RETAILER_B).spent == 0.0
    orders = [list(order) for order in permutations([RETAILER_B, RETAILER_A, BRAND])]
    ids = [new_id("budget") for _ in orders]

    def ask(job: tuple[str, list[str]]) -> OverlapResult | QueryError:
        query_id, parties = job
        with governed.client(RETAILER_B) as client:
            try:
                return client.overlap(parties, query_id=query_id)
            except QueryError as error:
                return error

    with ThreadPoolExecutor(max_workers=len(orders)) as threads:
        outcomes = list(threads.map(ask, zip(ids, orders, strict=True)))
    released = [o for o in outcomes if isinstance(o, OverlapResult)]
    refused = [o for o in outcomes if isinstance(o, QueryError)]
    assert len(released) == 3, refused
    assert len(refused) == 3
    for error in refused:
        assert error.code == "RESOURCE_EXHAUSTED"
        assert "privacy budget exhausted for retailer_b" in str(error)
        assert "retailer_a" in str(error)
    for result in released:
        assert result.release.epsilon == 0.5 and not result.release.from_cache
    usage = ledger.usage(RETAILER_B)
    assert usage.spent == pytest.approx(1.5)
    assert usage.reserved == 0.0
    assert usage.queries_today == 3
    assert governed.open_sessions() == {p: 0 for p in PARTIES}
    for query_id, order, outcome in zip(ids, orders, outcomes, strict=True):
        at_a = [r.record for r in governed.records(RETAILER_A, query_id)]
        assert len(at_a) == 1
        if isinstance(outcome, OverlapResult):
            assert at_a[0].decision == "released" and at_a[0].epsilon == 0.5
            governed.expect(Expected(query_id, tuple(order), "released"))
        else:
            assert at_a[0].decision == "refused"
            assert at_a[0].rule == "partners.retailer_b.epsilon_per_period"
            for party in (BRAND, RETAILER_B):  # admitted there, then refunded and logged
                assert [r.record.decision for r in governed.records(party, query_id)] == ["failed"]
            coordinator = governed.records(COORDINATOR, query_id)
            assert [r.record.decision for r in coordinator] == ["refused"]
            governed.expect(
                Expected(
                    query_id,
                    tuple(order),
                    "refused",
                    (RETAILER_A,),
                    "partners.retailer_b.epsilon_per_period",
                )
            )
    assert sum(r.record.epsilon for r in governed.audit(RETAILER_A).records()) == pytest.approx(1.5)

    # the budget is spent: a new question is refused, a repeated one is the cached answer
    with governed.client(RETAILER_B) as client:
        with pytest.raises(QueryError) as caught:
            client.overlap([RETAILER_B, RETAILER_A], query_id=new_id("over"))
        assert caught.value.code == "RESOURCE_EXHAUSTED"
        done = next(
            (i, o)
            for i, o in zip(ids, orders, strict=True)
            if governed.records(BRAND, i)
            and governed.records(RETAILER_A, i)[0].record.decision == "released"
        )
        again_id = new_id("budget-again")
        again = client.overlap(done[1], query_id=again_id)
    assert again.release.from_cache
    first = next(o for i, o in zip(ids, outcomes, strict=True) if i == done[0])
    assert isinstance(first, OverlapResult)
    assert again.regions == first.regions
    assert ledger.usage(RETAILER_B).spent == pytest.approx(1.5)
    governed.expect(Expected(again_id, tuple(done[1]), "released"))


def test_a_query_that_fails_after_admission_counts_and_is_charged_only_if_it_left(
    governed: Governed,
) -> None:
    """retailer_b admits retailer_a's noised query (reserving 0.5), then refuses to intersect
    with retailer_a's 40 phone numbers: the query counts against queries_per_day whatever
    happens; its epsilon is charged exactly when retailer_b's own set had already left for the
    coordinator (both chains run at once), refunded otherwise, and the audit record says which."""
    ledger = governed.ledger(RETAILER_B)
    before = ledger.usage(RETAILER_A)
    query_id = new_id("fails-later")
    with governed.client(RETAILER_A) as client, pytest.raises(QueryError) as caught:
        client.overlap([RETAILER_A, RETAILER_B], id_type="phone", query_id=query_id)
    assert caught.value.code == "FAILED_PRECONDITION"
    assert "set of retailer_a (40 members)" in str(caught.value)
    after = ledger.usage(RETAILER_A)
    assert after.queries_today == before.queries_today + 1
    assert after.reserved == 0.0
    record = governed.records(RETAILER_B, query_id)[0].record
    assert record.decision == "refused" and record.epsilon in (0.0, 0.5)
    assert after.spent - before.spent == pytest.approx(record.epsilon)
    assert record.rule == "partners.retailer_a.min_counterparty_set"
    governed.expect(
        Expected(
            query_id,
            (RETAILER_A, RETAILER_B),
            "refused",
            (RETAILER_B,),
            "partners.retailer_a.min_counterparty_set",
        )
    )
