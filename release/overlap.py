"""Turning counted answers into released ones: the parties' k and noise, applied once.

Two modes, decided per answer:

- Under noise (any party involved asks epsilon > 0). Overlap: the coordinator adds discrete
  Laplace noise (OpenDP, exact integer sampling) to the exclusive Venn regions only, with the
  smallest positive epsilon any party asks for and sensitivity 2 (adding or removing one member
  at one party moves it between two exclusive regions), and derives set sizes, pairs, the
  all-party count and the union from the noised regions (post-processing: the whole answer is
  epsilon-DP).
  Every released number is thresholded on its own noised value (below k: `<k`), and nothing is
  hidden to protect other cells: noise protects them, and secondary suppression would only
  destroy real numbers. Profile: owners noise their aggregates under encryption; the
  coordinator checks each owner's noised overlap against its k (below: the owner's whole
  profile is withheld) and thresholds bins and numeric counts on their noised values. Every
  noised number carries its error bar (`release.error_bars`).
- Exact mode (every party involved releases exactly, epsilon 0 everywhere): counts below k are
  hidden (`<k`) and the suppression is audited over all linked tables of the answer with a
  linear program (`release.suppression`): regions, set sizes, pairs, the all-party count and
  the union of an overlap (the querier's own set size counts as known; beyond `LP_PARTIES`
  parties, see `_regions_only`); each owner's overlap and bins and the combined profile.
  Cells hidden only to protect others are named in `ReleaseInfo.protective` and shown
  `suppressed`.

With no threshold anywhere (k = 0) and no noise, answers are released exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import combinations
from typing import NamedTuple

from model.outcomes import OverlapOutcome
from model.results import Count, OverlapResult, OwnerProfile, PartyLoad, ReleaseInfo
from protocols.matching import RegionCounts
from protocols.noise import DiscreteLaplace
from release.error_bars import OVERLAP_SENSITIVITY, overlap_bars
from release.suppression import LinkedCell, SuppressionPlan, audit

Regions = dict[frozenset[str], Count]
Sizes = dict[str, Count]
Pairs = dict[tuple[str, str], Count]


def strictest(terms: Sequence[tuple[int, float]]) -> tuple[int, float]:
    """The largest k and the smallest positive epsilon among parties' (k, epsilon) terms."""
    k = max((t[0] for t in terms), default=0)
    epsilons = [t[1] for t in terms if t[1] > 0]
    return k, min(epsilons, default=0.0)


def region_cell(members: Iterable[str], parties: Sequence[str]) -> str:
    """A region's cell name: `regions/` and its parties in query order, joined by `+`."""
    return "regions/" + "+".join(p for p in parties if p in set(members))


def pair_cell(a: str, b: str) -> str:
    """A pair's cell name, `pairwise/a+b`."""
    return f"pairwise/{a}+{b}"


def size_cell(party: str) -> str:
    """A set size's cell name, `set_sizes/party`."""
    return f"set_sizes/{party}"


ALL_PARTIES = "all_parties"
UNION = "union"

LP_PARTIES = 6
"""Largest overlap audited by linear programming in exact mode (63 regions: under a second)."""


def _derived(
    regions: Mapping[frozenset[str], int], parties: Sequence[str]
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    sizes = {p: sum(n for m, n in regions.items() if p in m) for p in parties}
    pairs = {
        (a, b): sum(n for m, n in regions.items() if {a, b} <= m)
        for a, b in combinations(parties, 2)
    }
    return sizes, pairs


class ReleasedOverlap(NamedTuple):
    """An overlap's numbers as released: None where hidden."""

    regions: Regions
    set_sizes: Sizes
    pairwise: Pairs
    all_parties: Count
    release: ReleaseInfo
    union: Count


def released_overlap(
    counts: RegionCounts, k: int, epsilon: float, known_sizes: Collection[str] = ()
) -> ReleasedOverlap:
    """Regions, set sizes, pairs, the all-party count and the union as released under
    (k, epsilon).

    `known_sizes`: parties whose set size the querier knows anyway (itself), taken as public by
    the exact-mode audit."""
    parties = list(counts.parties)
    everyone = frozenset(parties)
    if epsilon > 0:
        mechanism = DiscreteLaplace(epsilon, OVERLAP_SENSITIVITY)
        keys = list(counts.regions)
        noised = dict(zip(keys, mechanism.noised([counts.regions[m] for m in keys]), strict=True))
        sizes, pairs = _derived(noised, parties)

        def shown(value: int) -> Count:
            return value if value >= k else None

        regions = {m: shown(n) for m, n in noised.items()}
        sized = {p: shown(n) for p, n in sizes.items()}
        paired = {pair: shown(n) for pair, n in pairs.items()}
        union = shown(sum(noised.values()))
        every = [*regions.values(), *sized.values(), *paired.values(), union]
        info = ReleaseInfo(
            k=k,
            epsilon=epsilon,
            suppressed=sum(v is None for v in every),
            error_bars=overlap_bars(len(parties), epsilon),
        )
        return ReleasedOverlap(regions, sized, paired, regions[everyone], info, union)
    exact = dict(counts.regions)
    sizes, pairs = _derived(exact, parties)
    if k <= 0:
        info = ReleaseInfo(k=0, epsilon=0.0)
        total = sum(exact.values())
        return ReleasedOverlap(dict(exact), dict(sizes), dict(pairs), exact[everyone], info, total)
    keys = list(exact)
    index = {m: i for i, m in enumerate(keys)}
    cells = [LinkedCell(region_cell(m, parties), frozenset({index[m]}), exact[m]) for m in keys]
    cells += [
        LinkedCell(size_cell(p), frozenset(index[m] for m in keys if p in m), n)
        for p, n in sizes.items()
    ]
    cells += [
        LinkedCell(pair_cell(a, b), frozenset(index[m] for m in keys if {a, b} <= m), n)
        for (a, b), n in pairs.items()
    ]
    cells.append(LinkedCell(UNION, frozenset(index.values()), sum(exact.values())))
    public = {size_cell(p) for p in known_sizes if p in parties}
    if len(parties) <= LP_PARTIES:
        plan = audit(cells, k, public=public)
    else:
        plan = _regions_only(cells, k, public)
    hide = plan.hidden
    regions_out: Regions = {
        m: None if region_cell(m, parties) in hide else n for m, n in exact.items()
    }
    sizes_out: Sizes = {p: None if size_cell(p) in hide else n for p, n in sizes.items()}
    pairs_out: Pairs = {
        (a, b): None if pair_cell(a, b) in hide else n for (a, b), n in pairs.items()
    }
    protective = sorted(plan.protective, key=[c.name for c in cells].index)
    if region_cell(everyone, parties) in plan.protective:
        protective.append(ALL_PARTIES)  # the all-party count is that region, shown alike
    info = ReleaseInfo(k=k, epsilon=0.0, suppressed=len(hide), protective=tuple(protective))
    union_out = None if UNION in hide else sum(exact.values())
    return ReleasedOverlap(
        regions_out, sizes_out, pairs_out, regions_out[everyone], info, union_out
    )


def overlap_result(
    outcome: OverlapOutcome, seconds: float, signer: str = "", requester: str = ""
) -> OverlapResult:
    """Release rules applied to a counted overlap.

    Loads: under noise an exact count of rows or duplicates would sit next to the noised set
    sizes (and `accepted` is the exact set size), so only the querier's own load is released,
    and only when the querier is known as the signed query's signer; in exact mode a party's
    load is released where its set size is (or it is the signer). The exact-mode audit takes
    the set sizes of the signer and of the calling party (`requester`) as known to the
    querier."""
    assert outcome.counts is not None
    counts = outcome.counts
    order = counts.parties
    k, epsilon = strictest([(s.min_cohort, s.epsilon) for s in outcome.sessions.values()])
    regions, sizes, pairs, everyone, release, union = released_overlap(
        counts, k, epsilon, known_sizes=[p for p in (signer, requester) if p]
    )
    ordered = sorted(
        regions.items(),
        key=lambda item: (len(item[0]), sorted(order.index(p) for p in item[0])),
    )
    loads = tuple(
        PartyLoad(
            party=s.party,
            source=s.report.source,
            rows_read=s.report.rows_read,
            accepted=s.report.accepted,
            duplicates=s.report.duplicates,
            invalid=dict(s.report.invalid),
        )
        for s in outcome.sessions.values()
        if s.party == signer or (epsilon == 0 and sizes.get(s.party) is not None)
    )
    return OverlapResult(
        query_id=outcome.query_id,
        parties=order,
        id_type=outcome.id_type,
        set_sizes=sizes,
        regions=tuple(
            (tuple(sorted(members, key=order.index)), count) for members, count in ordered
        ),
        pairwise=tuple((a, b, n) for (a, b), n in pairs.items()),
        all_parties=everyone,
        union=union,
        loads=loads,
        seconds=seconds,
        release=release,
    )


def _regions_only(cells: Sequence[LinkedCell], k: int, public: set[str]) -> SuppressionPlan:
    """Exact mode beyond `LP_PARTIES` parties (2^n regions make the LP too slow): every set
    size and pair is hidden except those the querier knows anyway, so the only equations left
    are the querier's own sizes, each over disjoint regions. For one such equation the LP's
    answer is closed: a hidden region's interval is [0, hidden total] when two or more of the
    group are hidden and a point when one is, so the smallest released regions of the group
    are hidden until at least two are and their total is at least k."""
    regions = [c for c in cells if c.name.startswith("regions/")]  # the union is hidden too
    primary = {c.name for c in cells if c.value < k and c.name not in public}
    hidden = set(primary) | {
        c.name for c in cells if not c.name.startswith("regions/") and c.name not in public
    }
    for group in (c for c in cells if c.name in public):
        members = sorted(
            (c for c in regions if c.terms <= group.terms), key=lambda c: (c.value, c.name)
        )
        while True:
            inside = [c for c in members if c.name in hidden]
            if not inside or (len(inside) >= 2 and sum(c.value for c in inside) >= k):
                break
            shown = [c for c in members if c.name not in hidden]
            if not shown:
                break
            hidden.add(shown[0].name)
    return SuppressionPlan(frozenset(primary), frozenset(hidden - primary))


def profile_cells(profiles: Iterable[OwnerProfile]) -> dict[str, int]:
    """What a profile released, for the audit records: each owner's overlap under its name,
    `owner/attribute/bin` counts, and `owner/attribute:count` and `owner/attribute:sum` (the
    sum rounded to whole units, so settlements can be re-verified from the log) for numeric
    attributes (means and the exact sums are in the answer itself); suppressed cells and
    negative noised values are absent."""
    cells: dict[str, Count] = {}
    for p in profiles:
        cells[p.owner] = p.overlap
        for attribute, bins in p.categorical.items():
            cells |= {f"{p.owner}/{attribute}/{b}": n for b, n in bins.items()}
        cells |= {f"{p.owner}/{a}:count": s.count for a, s in p.numeric.items()}
        cells |= {f"{p.owner}/{a}:sum": round(s.sum) for a, s in p.numeric.items()}
    return {k: v for k, v in cells.items() if isinstance(v, int) and v >= 0}


def overlap_cells(result: OverlapResult) -> dict[str, int]:
    """What an overlap released, for the audit records: each exclusive region under its
    parties joined by `+` (query order), and the all-party count as `all`."""
    counts = {"+".join(m): n for m, n in result.regions} | {"all": result.all_parties}
    return released_cells(counts)


def released_cells(counts: Mapping[str, Count]) -> dict[str, int]:
    """Counts for an audit record: the released ones only."""
    return {key: value for key, value in counts.items() if value is not None}
