"""Results built in tests from plain sets and tables, independent of the query code."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import combinations
from typing import Any

from model.results import (
    NumericStats,
    OverlapResult,
    OwnerProfile,
    PartyLoad,
    ProfileResult,
)


def overlap_from_sets(sets: dict[str, set[int]], query_id: str = "q-test") -> OverlapResult:
    """An overlap result whose every number is counted here from the sets themselves."""
    parties = tuple(sets)
    regions = []
    for size in range(1, len(parties) + 1):
        for members in combinations(parties, size):
            inside = set.intersection(*(sets[p] for p in members))
            outside = set().union(*(sets[p] for p in parties if p not in members))
            regions.append((members, len(inside - outside)))
    pairwise = tuple((a, b, len(sets[a] & sets[b])) for a, b in combinations(parties, 2))
    return OverlapResult(
        query_id=query_id,
        parties=parties,
        id_type="email",
        set_sizes={p: len(s) for p, s in sets.items()},
        regions=tuple(regions),
        pairwise=pairwise,
        all_parties=len(set.intersection(*sets.values())),
        loads=tuple(
            PartyLoad(p, f"{p}.csv", len(s) + 7, len(s), 3, {"email_syntax": 4})
            for p, s in sets.items()
        ),
        seconds=1.25,
    )


def demo_sets(seed: int = 3) -> dict[str, set[int]]:
    """A brand and three retailers with overlapping random members."""
    rng = random.Random(seed)
    universe = range(60_000)
    return {
        "brand": set(rng.sample(universe, 21_000)),
        "retailer_a": set(rng.sample(universe, 30_000)),
        "retailer_b": set(rng.sample(universe, 18_500)),
        "retailer_c": set(rng.sample(universe, 9_800)),
    }


def sample_profile(query_id: str = "p-test") -> ProfileResult:
    """A profile of a brand's audience at two retailers and combined."""
    age = ("18-24", "25-34", "35-44", "45-54", "55+", "other")
    gender = ("female", "male", "other")
    owners = ("retailer_a", "retailer_b")
    rng = random.Random(11)
    profiles = []
    for owner in owners:
        bins_age: dict[str, int | None] = {b: rng.randrange(100, 4_000) for b in age}
        bins_gender: dict[str, int | None] = {b: rng.randrange(50, 6_000) for b in gender}
        count = rng.randrange(1_000, 9_000)
        total = count * rng.uniform(200, 900)
        profiles.append(
            OwnerProfile(
                owner=owner,
                overlap=sum(n or 0 for n in bins_age.values()),
                categorical={"age_band": bins_age, "gender": bins_gender},
                numeric={"spend_12m": NumericStats(count, round(total, 2), total / count, 123.456)},
            )
        )
    combined = OwnerProfile(
        owner="combined",
        overlap=sum(p.overlap or 0 for p in profiles),
        categorical={
            name: {b: sum(p.categorical[name][b] or 0 for p in profiles) for b in bins}
            for name, bins in (("age_band", age), ("gender", gender))
        },
        numeric={
            "spend_12m": NumericStats(
                sum(p.numeric["spend_12m"].count for p in profiles),
                round(sum(p.numeric["spend_12m"].sum for p in profiles), 2),
                sum(p.numeric["spend_12m"].sum for p in profiles)
                / sum(p.numeric["spend_12m"].count for p in profiles),
                150.5,
            )
        },
    )
    return ProfileResult(
        query_id=query_id,
        querier="brand",
        owners=owners,
        attributes=("age_band", "gender", "spend_12m"),
        profiles=(*profiles, combined),
        seconds=3.5,
    )


def with_suppressed(result: OverlapResult, *suppressed: tuple[str, ...]) -> OverlapResult:
    """The result with these regions' counts suppressed (None), as a release policy marks them."""
    wanted = {frozenset(members) for members in suppressed}
    regions: Any = tuple(
        (members, None if frozenset(members) in wanted else count)
        for members, count in result.regions
    )
    return replace(result, regions=regions)
