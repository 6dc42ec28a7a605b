"""The metrics that split a pool, exactly, from released numbers.

Each partner's weight is a fraction, with the formula in words and the cells it used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

from settlement.agreement import (
    DECLARED,
    PROSPECT_REACH,
    REPEAT_RATE,
    SHAPLEY_REACH,
    SHARED_REACH,
    SHARED_SPEND,
    Agreement,
    Pool,
)
from settlement.measurements import PROFILE, Cell, MeasurementMissing, Measurements


@dataclass(frozen=True)
class PoolSplit:
    """A pool split among the partners: weights, shares of the whole gains, and how."""

    pool: Pool
    formula: str
    weights: dict[str, Fraction]
    shares: dict[str, Fraction]
    used: dict[str, tuple[Cell, ...]]  # partner -> the cells its weight is made from


def _formula(pool: Pool, querier: str) -> str:
    """The weight w(p) of partner p in words; the share is always pool x w(p) / sum of w."""
    weight = {
        SHARED_SPEND: f"sum of {pool.attribute} over the members p shares with {querier} "
        f"(profile cell p/{pool.attribute}:sum, whole units)",
        SHAPLEY_REACH: f"Shapley value of reach: sum over overlap regions R holding {querier} "
        f"and p of n(R) / (number of partners in R)",
        SHARED_REACH: f"members p shares with {querier}: sum over overlap regions R holding "
        f"{querier} and p of n(R)",
        PROSPECT_REACH: f"prospects: p's members {querier} lacks, sum over overlap regions R "
        f"holding p and not {querier} of n(R)",
        REPEAT_RATE: f"share of the members p shares with {querier} in bin {pool.bin} of "
        f"{pool.attribute}: profile cell p/{pool.attribute}/{pool.bin} / cell p",
        DECLARED: "the value the agreement declares for p",
    }[pool.metric]
    return f"w(p) = {weight}; share(p) = {pool.share} x w(p) / sum over partners of w"


def _region_sum(
    regions: dict[frozenset[str], Cell],
    parties: Sequence[str],
    holding: frozenset[str],
    lacking: frozenset[str],
    why: str,
) -> tuple[Fraction, Fraction, tuple[Cell, ...]]:
    """(sum of n(R), sum of n(R)/partners(R), cells) over regions R holding every party of
    `holding` and none of `lacking`; a region not released is named."""
    total, shapley, used = Fraction(0), Fraction(0), []
    for size in range(1, len(parties) + 1):
        for members in combinations(parties, size):
            region = frozenset(members)
            if not holding <= region or region & lacking:
                continue
            cell = regions.get(region)
            if cell is None:
                raise MeasurementMissing(
                    f"{why} needs overlap region {'+'.join(members)}, which was not released "
                    "(hidden below k) or the record does not hold"
                )
            total += cell.value
            partners = len(region) - (1 if parties[0] in region else 0)
            shapley += Fraction(cell.value, partners)
            used.append(cell)
    return total, shapley, tuple(used)


def _weight(
    pool: Pool, agreement: Agreement, partner: str, data: Measurements
) -> tuple[Fraction, tuple[Cell, ...]]:
    why = f"pool {pool.name} ({pool.metric}) for {partner}"
    if pool.metric == DECLARED:
        return dict(pool.inputs)[partner], ()
    if pool.metric == SHARED_SPEND:
        cell = data.get(PROFILE, f"{partner}/{pool.attribute}:sum", why)
        return Fraction(cell.value), (cell,)
    if pool.metric == REPEAT_RATE:
        hits = data.get(PROFILE, f"{partner}/{pool.attribute}/{pool.bin}", why)
        base = data.get(PROFILE, partner, why)
        rate = Fraction(hits.value, base.value) if base.value else Fraction(0)
        return rate, (hits, base)
    parties = (agreement.querier, *agreement.partners)
    measured = data.overlap_parties()
    if measured and measured != frozenset(parties):
        raise MeasurementMissing(
            f"{why}: the recorded overlap is of {', '.join(sorted(measured))}, not of the "
            f"agreement's querier and partners"
        )
    querier = frozenset({agreement.querier})
    if pool.metric == PROSPECT_REACH:
        total, _, used = _region_sum(data.regions(), parties, frozenset({partner}), querier, why)
        return total, used
    total, shapley, used = _region_sum(
        data.regions(), parties, querier | {partner}, frozenset(), why
    )
    return (shapley if pool.metric == SHAPLEY_REACH else total), used


def split_pool(pool: Pool, agreement: Agreement, data: Measurements) -> PoolSplit:
    """Each partner's weight and share of the gains from this pool; MeasurementMissing when a
    needed number was not released; a pool whose weights are all 0 cannot be split."""
    weights: dict[str, Fraction] = {}
    used: dict[str, tuple[Cell, ...]] = {}
    for partner in agreement.partners:
        weights[partner], used[partner] = _weight(pool, agreement, partner, data)
    total = sum(weights.values(), Fraction(0))
    if total <= 0:
        raise MeasurementMissing(
            f"pool {pool.name} ({pool.metric}): every partner's weight is 0, so it cannot be split"
        )
    shares = {p: pool.share * w / total for p, w in weights.items()}
    return PoolSplit(pool, _formula(pool, agreement.querier), weights, shares, used)


def split(agreement: Agreement, data: Measurements) -> list[PoolSplit]:
    """Every pool of the agreement split on the period's measurements."""
    return [split_pool(pool, agreement, data) for pool in agreement.pools]


def totals(splits: Sequence[PoolSplit], partners: Sequence[str]) -> dict[str, Fraction]:
    """Each partner's share of the whole gains: the sum of its pool shares."""
    return {p: sum((s.shares[p] for s in splits), Fraction(0)) for p in partners}
