"""Each retailer's contribution to a brand's reach, exactly from the overlap's region counts.

Notation. The overlap query's parties P hold exclusive Venn regions: c(T) is the number of
elements held by exactly the parties T (T a non-empty subset of P), or unknown when the count
was suppressed (None) or is missing. b is the brand, R (a subset of P without b) the retailers.
A brand customer lies in exactly one region T with b in T, and its *retailer footprint* is
A = T ∩ R, the retailers that hold it. Customers per footprint:

    n(A) = Σ c(T) over regions T with b ∈ T and T ∩ R = A          (A ⊆ R)

The value of a coalition S ⊆ R is its reach, the brand customers held by at least one
retailer in S:

    v(S) = Σ n(A) over A ⊆ R with A ∩ S ≠ ∅

- reach(r)       = v({r}) = Σ n(A) over A ∋ r: brand customers retailer r holds.
- unique(r)      = n({r}): brand customers found at r and at no other retailer. It equals r's
                   marginal value to all retailers, v(R) - v(R \\ {r}).
- incremental(r) = v(S_r | {r}) - v(S_r) (| is set union), S_r the retailers before r in an order
                   (default: by reach, largest first, ties in query order): what r adds to the
                   brand customers reached by those before it; the increments sum to v(R).
- shapley(r)     = Σ over S ⊆ R \\ {r} of |S|! (|R| - |S| - 1)! / |R|! · (v(S | {r}) - v(S)).
                   v is a coverage game, so this is exactly Σ n(A) / |A| over A ∋ r: every brand
                   customer is shared equally among the retailers that hold it. The values are
                   rational (Fraction) and sum to v(R) (efficiency).

Regions without the brand never enter. A suppressed region T with b ∈ T makes unknown every
quantity whose sum contains c(T); such a quantity is None and `Contribution.not_computed` says
which region stopped it, instead of a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any

import pandas as pd

from client.frames import region_name
from model.results import OverlapResult

RegionCounts = Mapping[frozenset[str], int | None]


class ContributionError(ValueError):
    """The contribution question does not fit the overlap (unknown brand or retailer, ...)."""


@dataclass(frozen=True)
class RetailerContribution:
    """One retailer's share of the brand's reach; None where a suppressed region stops it."""

    retailer: str
    reach: int | None
    unique_reach: int | None
    incremental_reach: int | None
    shapley: Fraction | None


@dataclass(frozen=True)
class Contribution:
    """Reach of the brand's customers across retailers and each retailer's share of it."""

    brand: str
    retailers: tuple[str, ...]
    order: tuple[str, ...]
    brand_customers: int | None
    total_reach: int | None
    shares: tuple[RetailerContribution, ...]
    not_computed: tuple[str, ...] = ()

    def of(self, retailer: str) -> RetailerContribution:
        """The contribution of one retailer."""
        for share in self.shares:
            if share.retailer == retailer:
                return share
        raise KeyError(f"no retailer {retailer!r}")

    def to_frame(self) -> pd.DataFrame:
        """One row per retailer (index `retailer`, query order): `reach`, `unique_reach`,
        `incremental_reach` (nullable Int64: NA where a suppressed region stops it), `order`
        (1 = first in the incremental order), `shapley` (float: the Shapley value of reach,
        summing to `total_reach`) and `shapley_share` (float: its fraction of the total reach)."""
        total = self.total_reach
        rows = [
            {
                "reach": s.reach,
                "unique_reach": s.unique_reach,
                "incremental_reach": s.incremental_reach,
                "order": self.order.index(s.retailer) + 1,
                "shapley": None if s.shapley is None else float(s.shapley),
                "shapley_share": None
                if s.shapley is None or not total
                else float(s.shapley / total),
            }
            for s in self.shares
        ]
        frame = pd.DataFrame(
            rows,
            columns=[
                "reach",
                "unique_reach",
                "incremental_reach",
                "order",
                "shapley",
                "shapley_share",
            ],
            index=pd.Index([s.retailer for s in self.shares], name="retailer"),
        )
        frame = frame.astype(
            {
                "reach": "Int64",
                "unique_reach": "Int64",
                "incremental_reach": "Int64",
                "order": "int64",
                "shapley": "Float64",
                "shapley_share": "Float64",
            }
        )
        frame.attrs["brand"] = self.brand
        frame.attrs["total_reach"] = total
        frame.attrs["not_computed"] = list(self.not_computed)
        return frame

    def to_json(self) -> dict[str, Any]:
        """A JSON object; Shapley values as floats, unknown values as null."""
        return {
            "brand": self.brand,
            "retailers": list(self.retailers),
            "order": list(self.order),
            "brand_customers": self.brand_customers,
            "total_reach": self.total_reach,
            "shares": [
                {
                    "retailer": s.retailer,
                    "reach": s.reach,
                    "unique_reach": s.unique_reach,
                    "incremental_reach": s.incremental_reach,
                    "shapley": None if s.shapley is None else float(s.shapley),
                }
                for s in self.shares
            ],
            "not_computed": list(self.not_computed),
        }


@dataclass(frozen=True)
class _Footprints:
    """n(A) per retailer footprint A, with the suppressed regions that make an n(A) unknown."""

    counts: dict[frozenset[str], int]
    unknown: dict[frozenset[str], list[str]]

    def total(self, wanted: Iterable[frozenset[str]]) -> tuple[int | None, list[str]]:
        """Σ n(A) over the wanted footprints, or None and the regions that stop it."""
        blocked: list[str] = []
        total = 0
        for footprint in wanted:
            if footprint in self.unknown:
                blocked += [r for r in self.unknown[footprint] if r not in blocked]
            else:
                total += self.counts.get(footprint, 0)
        return (None, blocked) if blocked else (total, [])


def region_counts(result: OverlapResult) -> dict[frozenset[str], int | None]:
    """c(T) per region of an overlap result; None for a suppressed count."""
    return {frozenset(members): count for members, count in result.regions}


def _footprints(
    counts: RegionCounts, parties: Sequence[str], brand: str, retailers: Sequence[str]
) -> _Footprints:
    chosen = set(retailers)
    known: dict[frozenset[str], int] = {}
    unknown: dict[frozenset[str], list[str]] = {}
    for size in range(1, len(parties) + 1):
        for members in _subsets(parties, size):
            if brand not in members:
                continue
            footprint = members & chosen
            if not footprint:
                continue
            count = counts.get(members)
            if count is None:
                name = region_name([p for p in parties if p in members])
                why = "is suppressed" if members in counts else "is missing"
                unknown.setdefault(footprint, []).append(f"{name} {why}")
            else:
                known[footprint] = known.get(footprint, 0) + count
    return _Footprints(known, unknown)


def _subsets(items: Sequence[str], size: int) -> list[frozenset[str]]:
    return [frozenset(c) for c in combinations(items, size)]


def _footprints_meeting(retailers: Sequence[str], coalition: set[str]) -> list[frozenset[str]]:
    """Every footprint A ⊆ R with A ∩ S ≠ ∅."""
    return [
        footprint
        for size in range(1, len(retailers) + 1)
        for footprint in _subsets(retailers, size)
        if footprint & coalition
    ]


def _because(what: str, blocked: list[str]) -> str:
    return f"{what} cannot be computed: region {', region '.join(blocked)}"


def coalition_reach(
    counts: RegionCounts,
    parties: Sequence[str],
    brand: str,
    coalition: Iterable[str],
    retailers: Sequence[str] | None = None,
) -> int | None:
    """v(S): brand customers held by at least one retailer of `coalition`; None if suppressed."""
    others = [p for p in parties if p != brand] if retailers is None else list(retailers)
    footprints = _footprints(counts, parties, brand, others)
    value, _ = footprints.total(_footprints_meeting(others, set(coalition)))
    return value


def contribution(
    result: OverlapResult,
    brand: str,
    retailers: Sequence[str] | None = None,
    order: Sequence[str] | None = None,
) -> Contribution:
    """Reach, unique reach, incremental reach (in `order`) and the Shapley value of reach of
    each retailer (default: every other party of the query) for the brand's customers."""
    parties = list(result.parties)
    if brand not in parties:
        raise ContributionError(f"brand {brand!r} is not a party of query {result.query_id}")
    chosen = [p for p in parties if p != brand] if retailers is None else list(retailers)
    for name in chosen:
        if name == brand or name not in parties:
            raise ContributionError(
                f"retailer {name!r} is not another party of query {result.query_id}"
            )
    if not chosen or len(set(chosen)) != len(chosen):
        raise ContributionError("name one or more distinct retailers")
    counts = region_counts(result)
    footprints = _footprints(counts, parties, brand, chosen)
    not_computed: list[str] = []

    def known(what: str, value: tuple[int | None, list[str]]) -> int | None:
        if value[0] is None:
            not_computed.append(_because(what, value[1]))
        return value[0]

    reach = {
        r: known(f"reach of {r}", footprints.total(_footprints_meeting(chosen, {r})))
        for r in chosen
    }
    unique = {r: known(f"unique reach of {r}", footprints.total([frozenset({r})])) for r in chosen}
    total = known("total reach", footprints.total(_footprints_meeting(chosen, set(chosen))))
    shapley: dict[str, Fraction | None] = {}
    for r in chosen:
        holding = _footprints_meeting(chosen, {r})
        blocked = [region for a in holding for region in footprints.unknown.get(a, [])]
        if blocked:
            not_computed.append(_because(f"Shapley value of {r}", list(dict.fromkeys(blocked))))
            shapley[r] = None
        else:
            shapley[r] = sum(
                (Fraction(footprints.counts.get(a, 0), len(a)) for a in holding), Fraction(0)
            )
    sequence = _order(chosen, reach, order)
    incremental: dict[str, int | None] = {}
    before: set[str] = set()
    for r in sequence:
        wanted = [a for a in _footprints_meeting(chosen, {r}) if not a & before]
        incremental[r] = known(
            f"incremental reach of {r} after {', '.join(sorted(before)) or 'no retailer'}",
            footprints.total(wanted),
        )
        before.add(r)
    brand_customers = result.set_sizes.get(brand)
    return Contribution(
        brand=brand,
        retailers=tuple(chosen),
        order=tuple(sequence),
        brand_customers=brand_customers,
        total_reach=total,
        shares=tuple(
            RetailerContribution(r, reach[r], unique[r], incremental[r], shapley[r]) for r in chosen
        ),
        not_computed=tuple(not_computed),
    )


def _order(
    retailers: list[str], reach: Mapping[str, int | None], order: Sequence[str] | None
) -> list[str]:
    if order is not None:
        if sorted(order) != sorted(retailers):
            raise ContributionError(
                f"order {list(order)} must name each retailer once: {', '.join(retailers)}"
            )
        return list(order)
    if any(reach[r] is None for r in retailers):
        return list(retailers)
    return sorted(retailers, key=lambda r: -(reach[r] or 0))
