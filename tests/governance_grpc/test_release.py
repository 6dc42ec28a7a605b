"""Release rules over real gRPC: k-1 suppressed, k exact, integer noise, cached noised answers."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from client.sdk import QueryError
from model.results import OverlapResult
from runtime.certs import COORDINATOR
from tests.governance_grpc.conftest import (
    BRAND,
    MEMBERS,
    RETAILER_A,
    RETAILER_B,
    Expected,
    Governed,
    K,
    truth,
)


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def released_everywhere(governed: Governed, query_id: str, parties: tuple[str, ...]) -> None:
    for party in (*parties, COORDINATOR):
        assert [r.record.decision for r in governed.records(party, query_id)] == ["released"]
    governed.expect(Expected(query_id, parties, "released"))


def test_a_cohort_of_k_minus_1_is_suppressed(governed: Governed) -> None:
    """brand and retailer_a share 9 members, k is 10 (exact mode): the pair shows as "<10", and
    enough other cells are hidden, shown "suppressed", that no combination of the released
    regions, set sizes and pairs brings the pair back within fewer than k values."""
    assert truth([BRAND, RETAILER_A]).all_parties == K - 1
    query_id = new_id("k-1")
    with governed.client(BRAND) as client:
        result = client.overlap([BRAND, RETAILER_A], query_id=query_id)
    assert result.release.k == K and result.release.epsilon == 0.0
    assert result.release.error_bars == ()
    assert result.all_parties is None
    assert result.region(BRAND, RETAILER_A) is None
    assert result.pair(BRAND, RETAILER_A) is None
    assert result.release.shown(result.all_parties) == f"<{K}"
    assert result.release.shown(None, "regions/brand+retailer_a") == f"<{K}"
    protective = result.release.protective
    assert protective and all(result.release.label(c) == "suppressed" for c in protective)
    # the pair is no longer one subtraction away: |A| - A-only and |B| - B-only are broken
    assert result.region(BRAND) is None or result.set_sizes[BRAND] is None
    assert result.region(RETAILER_A) is None or result.set_sizes[RETAILER_A] is None
    for party in (BRAND, RETAILER_A):
        shown = result.set_sizes[party]
        assert shown is None or shown == MEMBERS
    document = result.to_json()
    assert document["all_parties"] is None
    assert document["release"]["protective"] == list(protective)
    assert document["release"]["suppressed"] == result.release.suppressed >= 3
    released_everywhere(governed, query_id, (BRAND, RETAILER_A))
    for party in (BRAND, RETAILER_A, COORDINATOR):
        record = governed.records(party, query_id)[0].record
        assert "brand+retailer_a" not in record.released and "all" not in record.released
        assert record.suppressed == result.release.suppressed


def test_a_profile_cohort_of_k_minus_1_is_suppressed(governed: Governed) -> None:
    query_id = new_id("profile-k-1")
    with governed.client(BRAND) as client:
        result = client.profile(BRAND, [RETAILER_A], ["age_band", "gender"], query_id=query_id)
    profile = result.profile(RETAILER_A)
    assert profile.overlap is None
    assert profile.release.k == K
    for bins in profile.categorical.values():
        assert all(count is None for count in bins.values())
    released_everywhere(governed, query_id, (BRAND, RETAILER_A))


def test_a_cohort_of_exactly_k_is_released_exactly(governed: Governed) -> None:
    expected = truth([BRAND, RETAILER_B])
    assert expected.all_parties == K
    query_id = new_id("k")
    with governed.client(BRAND) as client:
        result = client.overlap([BRAND, RETAILER_B], query_id=query_id)
    assert result.all_parties == K
    assert result.region(BRAND, RETAILER_B) == K
    assert result.region(BRAND) == MEMBERS - K and result.region(RETAILER_B) == MEMBERS - K
    assert result.release.k == K and result.release.suppressed == 0
    assert result.to_json()["all_parties"] == K
    released_everywhere(governed, query_id, (BRAND, RETAILER_B))
    record = governed.records(COORDINATOR, query_id)[0].record
    assert record.released["all"] == K


def _regions(result: OverlapResult) -> dict[frozenset[str], int | None]:
    return {frozenset(members): count for members, count in result.regions}


def test_noised_answer_is_integer_and_a_repeat_is_the_cached_answer(governed: Governed) -> None:
    """retailer_b noises retailer_a's answers (epsilon 0.5); the same question again returns
    the same numbers from the cache, with nothing charged."""
    ledger = governed.ledger(RETAILER_B)
    before = ledger.usage(RETAILER_A)
    parties = [RETAILER_A, RETAILER_B]
    expected = truth(parties)
    first_id, second_id = new_id("noised"), new_id("noised-again")
    with governed.client(RETAILER_A) as client:
        first = client.overlap(parties, query_id=first_id)
        after_first = ledger.usage(RETAILER_A)
        second = client.overlap(parties, query_id=second_id)
    assert first.release.epsilon == 0.5 and first.release.k == K
    assert not first.release.from_cache
    for members, count in _regions(first).items():
        assert isinstance(count, int), members  # noised, but an integer, and far above k
        assert abs(count - expected.regions[members]) < 50
    assert first.set_sizes[RETAILER_A] == sum(
        n for m, n in _regions(first).items() if RETAILER_A in m and n is not None
    )
    assert after_first.spent == pytest.approx(before.spent + 0.5)
    bars = {bar.table: bar for bar in first.release.error_bars}
    assert set(bars) == {"regions", "set_sizes", "pairwise", "all_parties", "union"}
    assert bars["regions"].sensitivity == 2 and bars["regions"].scale == 4.0
    assert bars["set_sizes"].noised_cells == 2 and bars["set_sizes"].half_width > 0
    assert first.release.protective == ()
    # no exact load counts of another party next to the noised sizes
    assert {load.party for load in first.loads} <= {RETAILER_A}
    assert second.release.from_cache
    assert second.query_id == second_id
    assert _regions(second) == _regions(first)
    assert second.set_sizes == first.set_sizes and second.pairwise == first.pairwise
    after_second = ledger.usage(RETAILER_A)
    assert after_second.spent == after_first.spent and after_second.reserved == 0.0
    released_everywhere(governed, first_id, tuple(parties))
    released_everywhere(governed, second_id, tuple(parties))
    assert governed.records(RETAILER_B, first_id)[0].record.epsilon == 0.5
    assert governed.records(RETAILER_B, second_id)[0].record.epsilon == 0.0
    cached = json.loads(json.dumps(second.to_json()))
    assert cached["release"]["from_cache"] is True


def test_identical_noised_queries_at_once_release_one_answer(governed: Governed) -> None:
    """Three identical questions at the same time: whatever is released is one and the same
    answer; a query that lost the race fails rather than leak fresh noise, and stays charged."""
    ledger = governed.ledger(RETAILER_B)
    before = ledger.usage(RETAILER_A).spent
    parties = [RETAILER_B, RETAILER_A]  # another order: not the cached question above
    ids = [new_id("same") for _ in range(3)]

    def ask(query_id: str) -> OverlapResult | QueryError:
        with governed.client(RETAILER_A) as client:
            try:
                return client.overlap(parties, query_id=query_id)
            except QueryError as error:
                return error

    with ThreadPoolExecutor(max_workers=3) as threads:
        outcomes = list(threads.map(ask, ids))
    answers = [o for o in outcomes if isinstance(o, OverlapResult)]
    errors = [o for o in outcomes if isinstance(o, QueryError)]
    assert answers
    assert all(e.code == "ABORTED" and "answered first" in str(e) for e in errors)
    assert len({a.regions for a in answers}) == 1
    # every racer whose set left retailer_b is charged for good (its fresh noise was made),
    # and retailer_b's audit log says so: one charge per query that ran, not one per answer
    usage = ledger.usage(RETAILER_A)
    charged = sum(r.record.epsilon for i in ids for r in governed.records(RETAILER_B, i))
    assert 0.5 <= charged <= 1.5
    assert usage.spent == pytest.approx(before + charged) and usage.reserved == 0.0
    for query_id, outcome in zip(ids, outcomes, strict=True):
        if isinstance(outcome, OverlapResult):
            released_everywhere(governed, query_id, tuple(parties))
