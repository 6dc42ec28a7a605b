"""Reach, unique and incremental reach, and Shapley values against brute force and the sets."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations, permutations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.insights import ContributionError, contribution
from model.results import OverlapResult
from tests.insights.samples import demo_sets, overlap_from_sets, with_suppressed

BRAND = "brand"


def result_from_regions(parties: tuple[str, ...], counts: dict[frozenset[str], int]) -> Any:
    """An overlap result carrying these region counts (sizes and pairs summed from them)."""
    regions = tuple(
        (members, counts[frozenset(members)])
        for size in range(1, len(parties) + 1)
        for members in combinations(parties, size)
    )
    return OverlapResult(
        query_id="q",
        parties=parties,
        id_type="email",
        set_sizes={p: sum(n for m, n in counts.items() if p in m) for p in parties},
        regions=regions,
        pairwise=tuple(
            (a, b, sum(n for m, n in counts.items() if {a, b} <= m))
            for a, b in combinations(parties, 2)
        ),
        all_parties=counts[frozenset(parties)],
    )


def reach_by_definition(counts: dict[frozenset[str], int], coalition: set[str]) -> int:
    """v(S) straight from the regions: brand customers held by a retailer in S."""
    return sum(n for members, n in counts.items() if BRAND in members and members & coalition)


def shapley_by_orderings(
    counts: dict[frozenset[str], int], retailers: list[str]
) -> dict[str, Fraction]:
    """Average marginal contribution over every ordering of the retailers."""
    totals = {r: Fraction(0) for r in retailers}
    orderings = list(permutations(retailers))
    for ordering in orderings:
        before: set[str] = set()
        for r in ordering:
            totals[r] += reach_by_definition(counts, before | {r}) - reach_by_definition(
                counts, before
            )
            before.add(r)
    return {r: total / len(orderings) for r, total in totals.items()}


@st.composite
def queries(draw: st.DrawFn) -> tuple[tuple[str, ...], dict[frozenset[str], int], list[str]]:
    """A brand, 1-4 retailers, maybe a party that is not a retailer, random region counts."""
    retailers = [f"retailer_{c}" for c in "abcd"[: draw(st.integers(1, 4))]]
    extra = ["other_brand"] if draw(st.booleans()) and len(retailers) < 4 else []
    parties = (BRAND, *retailers, *extra)
    counts = {
        frozenset(members): draw(st.integers(0, 10_000))
        for size in range(1, len(parties) + 1)
        for members in combinations(parties, size)
    }
    return parties, counts, retailers


@settings(max_examples=150, deadline=None)
@given(queries())
def test_shapley_equals_brute_force_over_orderings_and_is_efficient(
    query: tuple[tuple[str, ...], dict[frozenset[str], int], list[str]],
) -> None:
    parties, counts, retailers = query
    answer = contribution(result_from_regions(parties, counts), BRAND, retailers)
    expected = shapley_by_orderings(counts, retailers)
    assert {s.retailer: s.shapley for s in answer.shares} == expected
    everyone = reach_by_definition(counts, set(retailers))
    assert answer.total_reach == everyone
    assert sum(s.shapley or 0 for s in answer.shares) == everyone
    assert answer.not_computed == ()


@settings(max_examples=150, deadline=None)
@given(queries(), st.randoms())
def test_reach_unique_and_incremental_by_definition(
    query: tuple[tuple[str, ...], dict[frozenset[str], int], list[str]], rng: Any
) -> None:
    parties, counts, retailers = query
    order = list(retailers)
    rng.shuffle(order)
    answer = contribution(result_from_regions(parties, counts), BRAND, retailers, order)
    assert answer.order == tuple(order)
    everyone = set(retailers)
    for share in answer.shares:
        r = share.retailer
        assert share.reach == reach_by_definition(counts, {r})
        assert share.unique_reach == reach_by_definition(counts, everyone) - reach_by_definition(
            counts, everyone - {r}
        )
        before = set(order[: order.index(r)])
        assert share.incremental_reach == reach_by_definition(
            counts, before | {r}
        ) - reach_by_definition(counts, before)
    assert sum(s.incremental_reach or 0 for s in answer.shares) == answer.total_reach


def test_every_number_from_the_member_sets() -> None:
    sets = demo_sets()
    answer = contribution(overlap_from_sets(sets), BRAND)
    retailers = ["retailer_a", "retailer_b", "retailer_c"]
    brand = sets[BRAND]
    holders = {x: {r for r in retailers if x in sets[r]} for x in brand}
    assert answer.brand_customers == len(brand)
    assert answer.total_reach == sum(1 for x in brand if holders[x])
    for r in retailers:
        share = answer.of(r)
        others = set().union(*(sets[o] for o in retailers if o != r))
        assert share.reach == len(brand & sets[r])
        assert share.unique_reach == len(brand & sets[r] - others)
        assert share.shapley == sum(
            (Fraction(1, len(h)) for h in holders.values() if r in h), Fraction(0)
        )
    reaches = [answer.of(r).reach or 0 for r in answer.order]
    assert reaches == sorted(reaches, reverse=True)
    assert answer.of(answer.order[0]).incremental_reach == answer.of(answer.order[0]).reach


def test_suppressed_region_stops_exactly_what_depends_on_it() -> None:
    full = overlap_from_sets(demo_sets())
    result = with_suppressed(full, ("brand", "retailer_b"), ("retailer_a", "retailer_c"))
    answer = contribution(result, BRAND, order=["retailer_a", "retailer_b", "retailer_c"])
    exact = contribution(full, BRAND, order=["retailer_a", "retailer_b", "retailer_c"])
    b = answer.of("retailer_b")
    assert (b.reach, b.unique_reach, b.shapley) == (None, None, None)
    assert answer.total_reach is None
    # retailer_a and retailer_c never hold a customer of region brand & retailer_b only,
    # and the region without the brand does not matter.
    for name in ("retailer_a", "retailer_c"):
        assert answer.of(name).shapley == exact.of(name).shapley
        assert answer.of(name).reach == exact.of(name).reach
        assert answer.of(name).unique_reach == exact.of(name).unique_reach
    assert answer.of("retailer_a").incremental_reach == exact.of("retailer_a").incremental_reach
    assert answer.of("retailer_b").incremental_reach is None
    assert answer.of("retailer_c").incremental_reach == exact.of("retailer_c").incremental_reach
    assert (
        "Shapley value of retailer_b cannot be computed: region brand & retailer_b is suppressed"
        in answer.not_computed
    )
    assert "total reach cannot be computed: region brand & retailer_b is suppressed" in (
        answer.not_computed
    )
    assert not any("retailer_a & retailer_c" in line for line in answer.not_computed)
    assert not any(line.startswith("Shapley value of retailer_a") for line in answer.not_computed)


def test_suppressed_three_way_region_stops_the_shapley_values_of_its_retailers() -> None:
    result = with_suppressed(overlap_from_sets(demo_sets()), ("brand", "retailer_a", "retailer_b"))
    answer = contribution(result, BRAND)
    assert answer.of("retailer_a").shapley is None and answer.of("retailer_b").shapley is None
    assert answer.of("retailer_c").shapley is not None
    assert answer.of("retailer_a").unique_reach is not None
    assert answer.order == ("retailer_a", "retailer_b", "retailer_c")  # query order: reach unknown
    assert (
        "Shapley value of retailer_a cannot be computed: "
        "region brand & retailer_a & retailer_b is suppressed"
    ) in answer.not_computed


def test_to_json_is_plain() -> None:
    doc = contribution(overlap_from_sets(demo_sets()), BRAND).to_json()
    assert doc["brand"] == BRAND and len(doc["shares"]) == 3
    assert all(isinstance(s["shapley"], float) for s in doc["shares"])


@pytest.mark.parametrize(
    ("brand", "retailers", "order", "message"),
    [
        ("nobody", None, None, "brand 'nobody' is not a party"),
        (BRAND, ["brand"], None, "retailer 'brand' is not another party"),
        (BRAND, ["retailer_x"], None, "retailer 'retailer_x' is not another party"),
        (BRAND, ["retailer_a", "retailer_a"], None, "distinct retailers"),
        (BRAND, ["retailer_a", "retailer_b"], ["retailer_a"], "must name each retailer once"),
    ],
)
def test_questions_that_do_not_fit_the_overlap(
    brand: str, retailers: list[str] | None, order: list[str] | None, message: str
) -> None:
    with pytest.raises(ContributionError, match=message):
        contribution(overlap_from_sets(demo_sets()), brand, retailers, order)
