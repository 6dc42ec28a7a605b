"""Prospect pools, pairwise complementarity and the best partner mix, from one overlap's regions.

Pure post-processing of an overlap query's released numbers: no protocol runs, nothing new is
released, and under noise the results are as private as the regions they are made from.

Notation as in `client.insights`: c(T) is the released count of the exclusive Venn region
held by exactly the parties T; q is the querier (a brand), R another party.

- prospects(R)   = |R \\ q| = Σ c(T) over T ∋ R, q ∉ T: R's members the querier does not hold
                   (new customers R could bring), ranked largest first.
- adds(A, B)     = |B \\ A| = Σ c(T) over T ∋ B, A ∉ T: what B adds to A's audience;
  adds_share     = |B \\ A| / |B|; jaccard = |A ∩ B| / |A | B| (| is set union).
- coverage       = greedy max coverage over the partners (every party but the querier): step i
                   adds the partner with the largest gain, the members not yet reached (and, when
                   `new_only`, not held by the querier). Greedy reaches at least 1 - 1/e of the
                   best k-partner reach; ties go to the earlier party in the query.

Error bars. Under noise every region carries independent discrete Laplace noise of the
`regions` error bar's scale; a sum of m regions has the 95% half-width of the sum of m noises
(`protocols.noise.half_width`). A ratio x / y of two such sums is bounded by taking each sum's
interval at confidence 1 - 0.05/2 (both hold together with probability >= 95%, union bound) and
the ratio's extremes over them, clipped to [0, 1]. In exact mode the half-widths are 0.

Unknowns. A hidden region (`None`: below k, or hidden to protect others) makes every sum that
contains it unknown. A difference |B| - |A ∩ B| of released set size and pair replaces the sum
when both are released (it is the same number: sizes and pairs are sums of the same regions);
otherwise the quantity is None and `why` names the hidden regions. The greedy's first gains
are prospects (or set sizes) and fall back the same way; a greedy step whose candidates cannot
all be ranked stops the greedy, saying why. Nothing hidden is counted as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from client.frames import region_name
from model.results import OverlapResult
from protocols.noise import half_width

JOINT = 0.05 / 2
"""Per-sum miss probability of a ratio's two sums (union bound to a joint 95%)."""


class ProspectError(ValueError):
    """The question does not fit the overlap (a party not in the query, k < 1, ...)."""


@dataclass(frozen=True)
class Summed:
    """Σ c(T) over a family of regions: its value (None when unknown), the number of noised
    regions it sums, its 95% half-width (0.0 when exact) and why it is unknown."""

    value: int | None
    cells: int
    half_width: float
    why: str = ""


@dataclass(frozen=True)
class Prospects:
    """One party's members that the querier does not hold."""

    party: str
    rank: int | None
    members: int | None
    prospects: Summed

    @property
    def share(self) -> float | None:
        """prospects / members: the part of the party's base that is new to the querier."""
        if self.prospects.value is None or not self.members:
            return None
        return self.prospects.value / self.members


@dataclass(frozen=True)
class Ratio:
    """A ratio of released sums with its joint 95% interval ([value, value] when exact)."""

    value: float | None
    low: float | None
    high: float | None
    why: str = ""


@dataclass(frozen=True)
class Complementarity:
    """What `b` adds to `a`'s audience: |B \\ A|, |B \\ A| / |B| and the Jaccard index."""

    a: str
    b: str
    adds: Summed
    adds_share: Ratio
    jaccard: Ratio


@dataclass(frozen=True)
class CoverageStep:
    """One greedy step: the partner added, its gain and the reach so far, with half-widths;
    `decisive` is False when the runner-up's gain interval overlaps the winner's."""

    step: int
    partner: str
    gain: Summed
    reach: Summed
    runner_up: str | None
    decisive: bool


@dataclass(frozen=True)
class Coverage:
    """The greedy best partner mix for reach, and why it stopped early if it did."""

    querier: str | None
    new_only: bool
    steps: tuple[CoverageStep, ...]
    stopped: str = ""


class RegionSums:
    """Sums of an overlap result's released regions with their error bars."""

    def __init__(self, result: OverlapResult) -> None:
        self.result = result
        self.parties = list(result.parties)
        self.counts = {frozenset(m): c for m, c in result.regions}
        bar = result.release.error_bar("regions")
        self.scale = None if bar is None else bar.scale

    def half_width(self, cells: int, confidence: float = 0.95) -> float:
        """The half-width of a sum of `cells` noised regions (0.0 when exact)."""
        if self.scale is None or cells == 0:
            return 0.0
        return float(half_width([self.scale] * cells, confidence))

    def total(self, wanted: Callable[[frozenset[str]], bool]) -> Summed:
        """Σ c(T) over every region T (every non-empty subset of the parties) with wanted(T)."""
        value, cells, hidden = 0, 0, []
        for size in range(1, len(self.parties) + 1):
            for members in combinations(self.parties, size):
                region = frozenset(members)
                if not wanted(region):
                    continue
                cells += 1
                count = self.counts.get(region)
                if count is None:
                    hidden.append(region_name(members))
                else:
                    value += count
        if hidden:
            why = "hidden region " + ", ".join(hidden)
            return Summed(None, cells, self.half_width(cells), why)
        return Summed(value, cells, self.half_width(cells))

    def difference(self, b: str, a: str) -> Summed:
        """|B \\ A|: from the regions, else as the released |B| - |A ∩ B|."""
        summed = self.total(lambda t: b in t and a not in t)
        if summed.value is not None:
            return summed
        size, pair = self.result.set_sizes.get(b), self.result.pair(a, b)
        if size is None or pair is None:
            return summed
        return Summed(size - pair, summed.cells, summed.half_width)

    def intersection(self, a: str, b: str) -> Summed:
        """|A ∩ B|: the released pair, with the error bar of the regions it sums."""
        cells = 2 ** (len(self.parties) - 2)
        pair = self.result.pair(a, b)
        if pair is None:
            return self.total(lambda t: a in t and b in t)
        return Summed(pair, cells, self.half_width(cells))


def _check(result: OverlapResult, names: Iterable[str]) -> None:
    for name in names:
        if name not in result.parties:
            raise ProspectError(
                f"party {name!r} is not in query {result.query_id} "
                f"(parties: {', '.join(result.parties)})"
            )


def prospects(result: OverlapResult, querier: str) -> tuple[Prospects, ...]:
    """Every other party's members not in the querier's list, ranked largest first (unknown
    counts last, unranked, in query order)."""
    _check(result, [querier])
    sums = RegionSums(result)
    pools = [
        (party, sums.difference(party, querier)) for party in result.parties if party != querier
    ]
    known = sorted((p for p in pools if p[1].value is not None), key=lambda p: -(p[1].value or 0))
    ranked = [
        Prospects(party, i + 1, result.set_sizes.get(party), summed)
        for i, (party, summed) in enumerate(known)
    ]
    unknown = [
        Prospects(party, None, result.set_sizes.get(party), summed)
        for party, summed in pools
        if summed.value is None
    ]
    return tuple(ranked + unknown)


def _ratio(x: Summed, y: Summed, sums: RegionSums) -> Ratio:
    """x / (x + y) for disjoint region sums x and y, with its joint interval."""
    if x.value is None or y.value is None:
        return Ratio(None, None, None, x.why or y.why)
    if x.value + y.value <= 0:
        return Ratio(None, None, None, "the denominator is 0")
    value = x.value / (x.value + y.value)
    hx = sums.half_width(x.cells, 1 - JOINT)
    hy = sums.half_width(y.cells, 1 - JOINT)
    return Ratio(value, _share(x.value - hx, y.value + hy), _share(x.value + hx, y.value - hy))


def _share(x: float, y: float) -> float:
    """x / (x + y) clipped to [0, 1] for x and y taken at the ends of their intervals."""
    x, y = max(x, 0.0), max(y, 0.0)
    return 1.0 if y == 0 and x > 0 else (x / (x + y) if x + y > 0 else 0.0)


def complementarity(result: OverlapResult, a: str, b: str) -> Complementarity:
    """What `b` adds to `a`'s audience, and how alike their audiences are."""
    _check(result, [a, b])
    if a == b:
        raise ProspectError(f"complementarity needs two different parties, got {a!r} twice")
    sums = RegionSums(result)
    adds, shared, lost = sums.difference(b, a), sums.intersection(a, b), sums.difference(a, b)
    if lost.value is None or adds.value is None:
        others = Summed(None, lost.cells + adds.cells, 0.0, lost.why or adds.why)
    else:
        others = Summed(lost.value + adds.value, lost.cells + adds.cells, 0.0)
    return Complementarity(a, b, adds, _ratio(adds, shared, sums), _ratio(shared, others, sums))


def complementarity_matrix(result: OverlapResult) -> tuple[Complementarity, ...]:
    """Every ordered pair (a, b) of the query's parties, a != b, rows in query order."""
    return tuple(
        complementarity(result, a, b) for a in result.parties for b in result.parties if a != b
    )


def best_partners(
    result: OverlapResult,
    k: int,
    querier: str | None = None,
    new_only: bool = True,
    partners: Sequence[str] | None = None,
) -> Coverage:
    """Up to `k` partners chosen greedily for reach: members held by a chosen partner (and not by
    the querier, when `querier` is given and `new_only`)."""
    if k < 1:
        raise ProspectError(f"k must be 1 or more, got {k}")
    _check(result, [querier] if querier else [])
    pool = [p for p in result.parties if p != querier] if partners is None else list(partners)
    _check(result, pool)
    if querier in pool:
        raise ProspectError(f"the querier {querier!r} cannot be its own partner")
    excluded = querier if querier is not None and new_only else None
    sums = RegionSums(result)
    chosen: list[str] = []
    steps: list[CoverageStep] = []
    reach = Summed(0, 0, 0.0)
    while len(chosen) < min(k, len(pool)):
        gains = [(p, _gain(sums, p, frozenset(chosen), excluded)) for p in pool if p not in chosen]
        blocked = [f"{p}: {g.why}" for p, g in gains if g.value is None]
        if blocked:
            return Coverage(
                querier,
                excluded is not None,
                tuple(steps),
                f"step {len(chosen) + 1} cannot rank the partners: " + "; ".join(blocked),
            )
        order = sorted(gains, key=lambda pg: -(pg[1].value or 0))
        (best, gain), runner = order[0], (order[1] if len(order) > 1 else None)
        decisive = runner is None or (gain.value or 0) - gain.half_width > (
            (runner[1].value or 0) + runner[1].half_width
        )
        chosen.append(best)
        cells = reach.cells + gain.cells  # the gains sum disjoint families of regions
        reach = Summed((reach.value or 0) + (gain.value or 0), cells, sums.half_width(cells))
        steps.append(
            CoverageStep(
                len(chosen), best, gain, reach, runner[0] if runner else None, bool(decisive)
            )
        )
    return Coverage(querier, excluded is not None, tuple(steps))


def _gain(sums: RegionSums, partner: str, taken: frozenset[str], excluded: str | None) -> Summed:
    """Members of `partner` held by no partner in `taken` (nor by `excluded`); the first step's
    gain falls back on the released set size (and pair) when a region it sums is hidden."""
    if not taken and excluded is not None:
        return sums.difference(partner, excluded)
    summed = sums.total(lambda t: partner in t and not t & taken and excluded not in t)
    size = sums.result.set_sizes.get(partner)
    if summed.value is None and not taken and size is not None:
        return Summed(size, summed.cells, summed.half_width)
    return summed


@dataclass(frozen=True)
class JointAnalysis:
    """Every joint-operations analysis of one overlap for one querier, as the CLI prints it."""

    result: OverlapResult
    querier: str
    pools: tuple[Prospects, ...]
    pairs: tuple[Complementarity, ...]
    coverage: Coverage

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (README, "Joint operations"); unknown numbers are null
        with their `why`."""
        return {
            "query_id": self.result.query_id,
            "querier": self.querier,
            "prospects": [
                {"party": p.party, "rank": p.rank, "members": p.members, "share": p.share}
                | _summed(p.prospects, "prospects")
                for p in self.pools
            ],
            "complementarity": [
                {"a": c.a, "b": c.b}
                | _summed(c.adds, "adds")
                | _ratio_json(c.adds_share, "adds_share")
                | _ratio_json(c.jaccard, "jaccard")
                for c in self.pairs
            ],
            "coverage": {
                "new_only": self.coverage.new_only,
                "stopped": self.coverage.stopped,
                "steps": [
                    {"step": s.step, "partner": s.partner}
                    | _summed(s.gain, "gain")
                    | _summed(s.reach, "reach")
                    | {"runner_up": s.runner_up, "decisive": s.decisive}
                    for s in self.coverage.steps
                ],
            },
            "overlap": self.result.to_json(),
        }


def analyse(result: OverlapResult, querier: str, k: int, new_only: bool = True) -> JointAnalysis:
    """Prospects for `querier`, complementarity of every pair, and the best `k` partners."""
    return JointAnalysis(
        result,
        querier,
        prospects(result, querier),
        complementarity_matrix(result),
        best_partners(result, k, querier, new_only),
    )


def _summed(value: Summed, name: str) -> dict[str, Any]:
    return {name: value.value, f"{name}_half_width": value.half_width, f"{name}_why": value.why}


def _ratio_json(value: Ratio, name: str) -> dict[str, Any]:
    return {
        name: value.value,
        f"{name}_low": value.low,
        f"{name}_high": value.high,
        f"{name}_why": value.why,
    }
