"""Turning counted answers into released ones: the parties' k and noise, applied once.

Overlap: the coordinator adds discrete Laplace noise to the exclusive Venn regions (disjoint
cells, sensitivity 1) with the smallest epsilon any party asks for, derives set sizes, pairs and
the all-party count from the noised regions, and suppresses everything below the largest k any
party asks for, plus the cells that would let a suppressed region be derived from released
totals. Profile: owners add their own noise under encryption; the coordinator suppresses each
owner's overlap, bins and numeric statistics below that owner's k (the combined profile uses the
largest k). With no policy anywhere (k = 0) answers are released exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from coordinator.release import add_noise, release_counts, venn_totals
from coordinator.results import Count, OwnerProfile, ReleaseInfo
from protocols.matching import RegionCounts


def strictest(terms: Sequence[tuple[int, float]]) -> tuple[int, float]:
    """The largest k and the smallest positive epsilon among parties' (k, epsilon) terms."""
    k = max((t[0] for t in terms), default=0)
    epsilons = [t[1] for t in terms if t[1] > 0]
    return k, min(epsilons, default=0.0)


def reusable_answer(sessions: Iterable[tuple[float, str]]) -> str | None:
    """The cached answer to release instead of a fresh one, from the parties' (epsilon,
    cached answer) at admission: every party that noises the query, or holds a cached answer
    for it, holds the same one. Parties that add no noise (the querier's own node, partners
    without noise) keep no cache and are not asked. None: answer afresh."""
    holders = {cached for epsilon, cached in sessions if epsilon > 0 or cached}
    if len(holders) == 1 and "" not in holders:
        return holders.pop()
    return None


def released_overlap(
    counts: RegionCounts, k: int, epsilon: float
) -> tuple[
    dict[frozenset[str], Count],
    dict[str, Count],
    dict[tuple[str, str], Count],
    Count,
    ReleaseInfo,
]:
    """Regions, set sizes, pairs and the all-party count as released under (k, epsilon)."""
    regions = dict(counts.regions)
    if epsilon > 0:
        regions = add_noise(regions, epsilon)
    parties = counts.parties

    def total(members: frozenset[frozenset[str]]) -> int:
        return sum(regions[m] for m in members)

    sizes = {p: sum(n for m, n in regions.items() if p in m) for p in parties}
    pairs = {
        (a, b): sum(n for m, n in regions.items() if {a, b} <= m)
        for i, a in enumerate(parties)
        for b in parties[i + 1 :]
    }
    everyone = regions[frozenset(parties)]
    if k <= 0:
        info = ReleaseInfo(k=0, epsilon=epsilon)
        return (
            {m: int(n) for m, n in regions.items()},
            {p: int(n) for p, n in sizes.items()},
            {pair: int(n) for pair, n in pairs.items()},
            int(everyone),
            info,
        )
    released = release_counts(regions, k, venn_totals(regions, parties))
    shown: dict[frozenset[str], Count] = {
        m: value if isinstance(value, int) else None for m, value in released.cells.items()
    }
    sized = {p: (n if n >= k else None) for p, n in sizes.items()}
    paired = {pair: (n if n >= k else None) for pair, n in pairs.items()}
    hidden = sum(1 for v in [*sized.values(), *paired.values()] if v is None)
    info = ReleaseInfo(k=k, epsilon=epsilon, suppressed=released.suppressed + hidden)
    return shown, sized, paired, shown[frozenset(parties)], info


def released_profile(profile: OwnerProfile, k: int, epsilon: float) -> OwnerProfile:
    """An owner's (or the combined) profile with cells below k suppressed."""
    if k <= 0:
        return OwnerProfile(
            profile.owner,
            profile.overlap,
            profile.categorical,
            profile.numeric,
            release=ReleaseInfo(k=0, epsilon=epsilon),
        )
    hidden = 0
    overlap: Count = profile.overlap
    if overlap is not None and overlap < k:
        overlap, hidden = None, hidden + 1
    categorical: dict[str, dict[str, Count]] = {}
    for name, bins in profile.categorical.items():
        cells = {b: n for b, n in bins.items() if n is not None}
        released = release_counts(cells, k, [frozenset(cells)] if overlap is not None else [])
        categorical[name] = {
            b: (value if isinstance(value, int) else None) for b, value in released.cells.items()
        }
        hidden += released.suppressed
    numeric = {}
    dropped = []
    for name, stats in profile.numeric.items():
        if stats.count >= k:
            numeric[name] = stats
        else:
            dropped.append(name)
    hidden += len(dropped)
    return OwnerProfile(
        profile.owner,
        overlap,
        categorical,
        numeric,
        tuple(dropped),
        ReleaseInfo(k=k, epsilon=epsilon, suppressed=hidden),
    )


def released_cells(counts: Mapping[str, Count]) -> dict[str, int]:
    """Counts for an audit record: the released ones only."""
    return {key: value for key, value in counts.items() if value is not None}
