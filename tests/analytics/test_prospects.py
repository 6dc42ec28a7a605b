"""Prospects, complementarity and the greedy partner mix against plaintext set arithmetic; hidden
regions stay unknown; noised error bars hold the truth as often as they claim."""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import combinations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.joint_frames import (
    complementarity_frame,
    complementarity_heatmap,
    coverage_frame,
    prospects_frame,
)
from client.prospects import (
    ProspectError,
    best_partners,
    complementarity,
    prospects,
)
from model.results import OverlapResult
from protocols.matching import RegionCounts
from protocols.noise import half_width
from release.overlap import released_overlap
from tests.insights.samples import demo_sets, overlap_from_sets, with_suppressed

NAMES = ("brand", "retailer_a", "retailer_b", "retailer_c")


def greedy_by_sets(sets: dict[str, set[int]], querier: str, k: int) -> list[tuple[str, int, int]]:
    """Greedy max coverage of the members the querier lacks, straight from the sets."""
    pool = [p for p in sets if p != querier]
    reached: set[int] = set()
    steps = []
    for _ in range(min(k, len(pool))):
        gains = {p: len(sets[p] - sets[querier] - reached) for p in pool}
        best = max(gains, key=lambda p: (gains[p], -pool.index(p)))
        pool.remove(best)
        reached |= sets[best] - sets[querier]
        steps.append((best, gains[best], len(reached)))
    return steps


party_sets = st.integers(2, 4).flatmap(
    lambda n: st.tuples(*[st.sets(st.integers(0, 60), min_size=1, max_size=40)] * n)
)


@settings(max_examples=60, deadline=None)
@given(party_sets, st.integers(1, 3))
def test_every_measure_matches_set_arithmetic(drawn: tuple[set[int], ...], k: int) -> None:
    sets = dict(zip(NAMES, drawn, strict=False))
    result = overlap_from_sets(sets)
    querier = "brand"
    pools = prospects(result, querier)
    for pool in pools:
        assert pool.prospects.value == len(sets[pool.party] - sets[querier])
        assert pool.prospects.half_width == 0.0
    values = [p.prospects.value or 0 for p in pools]
    assert values == sorted(values, reverse=True)
    assert [p.rank for p in pools] == list(range(1, len(pools) + 1))
    for a, b in combinations(sets, 2):
        for x, y in ((a, b), (b, a)):
            c = complementarity(result, x, y)
            assert c.adds.value == len(sets[y] - sets[x])
            assert c.adds_share.value == pytest.approx(len(sets[y] - sets[x]) / len(sets[y]))
            assert c.adds_share.low == c.adds_share.high == c.adds_share.value
            assert c.jaccard.value == pytest.approx(len(sets[x] & sets[y]) / len(sets[x] | sets[y]))
    coverage = best_partners(result, k, querier)
    assert coverage.stopped == ""
    assert [(s.partner, s.gain.value, s.reach.value) for s in coverage.steps] == greedy_by_sets(
        sets, querier, k
    )


def test_frames_hold_the_same_numbers_as_a_pandas_oracle() -> None:
    sets = demo_sets()
    result = overlap_from_sets(sets)
    frame = prospects_frame(result, "brand")
    assert list(frame.index) == ["retailer_a", "retailer_b", "retailer_c"]
    for party, row in frame.iterrows():
        assert row["prospects"] == len(sets[str(party)] - sets["brand"])
        assert row["share"] == pytest.approx(row["prospects"] / len(sets[str(party)]))
    heat = complementarity_heatmap(result)
    assert list(heat.index) == list(heat.columns) == list(sets)
    for a in sets:
        assert heat.loc[a, a] is pd.NA
        for b in sets:
            if a != b:
                assert heat.loc[a, b] == pytest.approx(len(sets[b] - sets[a]) / len(sets[b]))
    jaccard = complementarity_heatmap(result, "jaccard")
    assert jaccard.loc["retailer_a", "retailer_b"] == pytest.approx(
        jaccard.loc["retailer_b", "retailer_a"]
    )
    steps = coverage_frame(result, 3, "brand")
    oracle = greedy_by_sets(sets, "brand", 3)
    assert list(steps["partner"]) == [s[0] for s in oracle]
    assert list(steps["reach"]) == [s[2] for s in oracle]
    assert len(complementarity_frame(result)) == 4 * 3


def test_a_hidden_region_makes_only_what_sums_it_unknown() -> None:
    sets = demo_sets()
    exact = overlap_from_sets(sets)
    hidden = with_suppressed(exact, ("retailer_a", "retailer_c"))
    # every set size and pair released: the differences stand in for the region sums
    pools = {p.party: p for p in prospects(hidden, "brand")}
    assert pools["retailer_a"].prospects.value == len(sets["retailer_a"] - sets["brand"])
    # with retailer_a's size hidden too, its pool is unknown and says why; the others are not
    blind = replace(hidden, set_sizes={**hidden.set_sizes, "retailer_a": None})
    pools = {p.party: p for p in prospects(blind, "brand")}
    assert pools["retailer_a"].prospects.value is None
    assert pools["retailer_a"].rank is None
    assert "retailer_a & retailer_c" in pools["retailer_a"].prospects.why
    assert pools["retailer_b"].prospects.value == len(sets["retailer_b"] - sets["brand"])
    assert [p.party for p in prospects(blind, "brand")][-1] == "retailer_a"
    frame = prospects_frame(blind, "brand")
    assert frame.loc["retailer_a", "prospects"] is pd.NA
    assert "hidden region retailer_a & retailer_c" in str(frame.loc["retailer_a", "why"])
    # the greedy cannot rank partners whose gain sums the hidden region: it stops and says so
    coverage = best_partners(blind, 2, "brand")
    assert coverage.steps == ()
    assert "step 1 cannot rank" in coverage.stopped
    assert "retailer_a & retailer_c" in coverage.stopped


def test_noised_error_bars_are_those_of_the_summed_regions() -> None:
    result = overlap_from_sets(demo_sets())
    epsilon = 0.5
    noised = released_overlap(region_counts(demo_sets()), k=0, epsilon=epsilon)
    result = replace(result, release=noised.release)
    scale = 2 / epsilon
    pools = prospects(result, "brand")
    assert all(p.prospects.cells == 4 for p in pools)  # 2^(4-2) regions each
    assert all(p.prospects.half_width == half_width([scale] * 4) for p in pools)
    steps = best_partners(result, 3, "brand").steps
    assert [s.reach.cells for s in steps] == [4, 6, 7]


def region_counts(sets: dict[str, set[int]]) -> RegionCounts:
    parties = tuple(sets)
    result = overlap_from_sets(sets)
    return RegionCounts(
        parties,
        {p: len(s) for p, s in sets.items()},
        {frozenset(m): n or 0 for m, n in result.regions},
    )


def released(sets: dict[str, set[int]], epsilon: float) -> OverlapResult:
    """One noised release of these sets, as the coordinator makes it (k 0)."""
    parties = tuple(sets)
    out = released_overlap(region_counts(sets), k=0, epsilon=epsilon)
    return OverlapResult(
        query_id="noised",
        parties=parties,
        id_type="email",
        set_sizes=dict(out.set_sizes),
        regions=tuple((tuple(sorted(m, key=parties.index)), n) for m, n in out.regions.items()),
        pairwise=tuple((a, b, n) for (a, b), n in out.pairwise.items()),
        all_parties=out.all_parties,
        release=out.release,
    )


def sets_from_regions(parties: tuple[str, ...], sizes: list[int]) -> dict[str, set[int]]:
    """Sets whose exclusive regions, in order of `combinations` by size, have these sizes."""
    sets: dict[str, set[int]] = {p: set() for p in parties}
    regions = [m for n in range(1, len(parties) + 1) for m in combinations(parties, n)]
    start = 0
    for members, size in zip(regions, sizes, strict=True):
        for party in members:
            sets[party] |= set(range(start, start + size))
        start += size
    return sets


def test_noised_intervals_hold_the_truth_at_least_95_percent_of_the_time() -> None:
    sets = sets_from_regions(
        ("brand", "retailer_a", "retailer_b"), [120, 180, 160, 150, 100, 190, 200]
    )
    trials, epsilon = 400, 0.3
    hits = {"prospects": 0, "adds_share": 0, "jaccard": 0}
    truth_share = len(sets["retailer_b"] - sets["retailer_a"]) / len(sets["retailer_b"])
    truth_jaccard = len(sets["retailer_a"] & sets["retailer_b"]) / len(
        sets["retailer_a"] | sets["retailer_b"]
    )
    for _ in range(trials):
        result = released(sets, epsilon)
        assert result.release.suppressed == 0  # every region is far above 0
        pool = next(p for p in prospects(result, "brand") if p.party == "retailer_a")
        assert pool.prospects.value is not None
        truth = len(sets["retailer_a"] - sets["brand"])
        hits["prospects"] += abs(pool.prospects.value - truth) <= pool.prospects.half_width
        c = complementarity(result, "retailer_a", "retailer_b")
        assert c.adds_share.low is not None and c.adds_share.high is not None
        assert c.jaccard.low is not None and c.jaccard.high is not None
        hits["adds_share"] += c.adds_share.low <= truth_share <= c.adds_share.high
        hits["jaccard"] += c.jaccard.low <= truth_jaccard <= c.jaccard.high
    slack = 4 * math.sqrt(0.05 * 0.95 / trials)  # one-sided: a false failure ~3e-5 per check
    for name, count in hits.items():
        assert count / trials >= 0.95 - slack, name


def test_questions_that_do_not_fit_the_overlap_say_so() -> None:
    result = overlap_from_sets(demo_sets())
    with pytest.raises(ProspectError, match="party 'shop' is not in query q-test"):
        prospects(result, "shop")
    with pytest.raises(ProspectError, match="two different parties"):
        complementarity(result, "brand", "brand")
    with pytest.raises(ProspectError, match="k must be 1 or more"):
        best_partners(result, 0, "brand")
