"""Query results as plain dataclasses: what the SDK returns, the CLI prints and nodes cache.

A count of `None` is suppressed: below the minimum cohort k of a party involved (shown `<k`),
or, in exact mode only, hidden so that a small cell cannot be derived from the released tables
(its name is listed in `ReleaseInfo.protective`; shown `suppressed`). A noised count carries
the `ErrorBar` of its table in `ReleaseInfo.error_bars`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Count = int | None


@dataclass(frozen=True)
class ErrorBar:
    """The noise on the numbers of one table and their 95% interval half-width.

    `table` names what it covers: `regions`, `set_sizes`, `pairwise`, `all_parties` in an
    overlap; `overlap`, an attribute's histogram (`age_band`) or a numeric statistic
    (`spend.count`, `spend.sum`, `spend.mean`, `spend.std`) in a profile. `epsilon`,
    `sensitivity` and `scale` are those of the noised cells it is made from (sensitivity in
    encoded units for numeric cells); `noised_cells` is how many independently noised cells each
    number sums (a set size sums 2^(n-1) regions; a combined profile sums one cell per owner);
    `half_width` is in the table's own units: the truth lies within the number +- half_width
    with probability at least 95%. A derived ratio (`mean`, `std`) has mechanism `derived`.
    """

    table: str
    mechanism: str
    epsilon: float
    sensitivity: int
    scale: float
    noised_cells: int
    half_width: float

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "sensitivity": self.sensitivity,
            "scale": self.scale,
            "noised_cells": self.noised_cells,
            "half_width": self.half_width,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorBar:
        return cls(
            str(data["table"]),
            str(data["mechanism"]),
            float(data["epsilon"]),
            int(data["sensitivity"]),
            float(data["scale"]),
            int(data["noised_cells"]),
            float(data["half_width"]),
        )


@dataclass(frozen=True)
class ReleaseInfo:
    """How the released numbers were made safe: threshold, noise and its error bars, and the
    cells hidden only to protect others (exact mode)."""

    k: int = 0
    epsilon: float = 0.0
    from_cache: bool = False
    suppressed: int = 0
    error_bars: tuple[ErrorBar, ...] = ()
    protective: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "epsilon": self.epsilon,
            "from_cache": self.from_cache,
            "suppressed": self.suppressed,
            "error_bars": [bar.to_json() for bar in self.error_bars],
            "protective": list(self.protective),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReleaseInfo:
        return cls(
            int(data.get("k", 0)),
            float(data.get("epsilon", 0.0)),
            bool(data.get("from_cache", False)),
            int(data.get("suppressed", 0)),
            tuple(ErrorBar.from_json(b) for b in data.get("error_bars", ())),
            tuple(str(name) for name in data.get("protective", ())),
        )

    def error_bar(self, table: str) -> ErrorBar | None:
        """The error bar of a table's numbers, or None when they are exact."""
        return next((bar for bar in self.error_bars if bar.table == table), None)

    def label(self, cell: str = "") -> str:
        """How a hidden cell is shown: `suppressed` when it was hidden only to protect others,
        `<k` when it is below k."""
        return "suppressed" if cell and cell in self.protective else f"<{self.k}"

    def shown(self, count: Count, cell: str = "", table: str = "") -> str:
        """A count for people: the number (with `± half-width` when noised), `<k` or
        `suppressed`."""
        if count is None:
            return self.label(cell)
        bar = self.error_bar(table) if table else None
        return f"{count:,} ± {bar.half_width:,.0f}" if bar else f"{count:,}"


@dataclass(frozen=True)
class PartyLoad:
    """How a party's source rows were taken in: counts only, no identifiers."""

    party: str
    source: str
    rows_read: int
    accepted: int
    duplicates: int
    invalid: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OverlapResult:
    """Sizes, every exclusive Venn region, pairwise overlaps and the all-party intersection."""

    query_id: str
    parties: tuple[str, ...]
    id_type: str
    set_sizes: dict[str, Count]
    regions: tuple[tuple[tuple[str, ...], Count], ...]
    pairwise: tuple[tuple[str, str, Count], ...]
    all_parties: Count
    loads: tuple[PartyLoad, ...] = ()
    seconds: float = 0.0
    release: ReleaseInfo = ReleaseInfo()
    union: Count = None

    def region(self, *parties: str) -> Count:
        """The count of elements held by exactly `parties` (order does not matter)."""
        wanted = set(parties)
        for members, count in self.regions:
            if set(members) == wanted:
                return count
        raise KeyError(f"no region for {sorted(wanted)}")

    def pair(self, a: str, b: str) -> Count:
        """|A ∩ B| for two queried parties."""
        for x, y, count in self.pairwise:
            if {x, y} == {a, b}:
                return count
        raise KeyError(f"no pair {a}, {b}")

    def pair_cell(self, a: str, b: str) -> str:
        """A pair's cell name (as release information names it), in the result's party order."""
        x, y = (a, b) if self.parties.index(a) < self.parties.index(b) else (b, a)
        return f"pairwise/{x}+{y}"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (see README, "Overlap JSON")."""
        return {
            "query_id": self.query_id,
            "kind": "overlap",
            "id_type": self.id_type,
            "parties": list(self.parties),
            "set_sizes": dict(self.set_sizes),
            "regions": [
                {"parties": list(members), "count": count} for members, count in self.regions
            ],
            "pairwise": [{"a": a, "b": b, "count": count} for a, b, count in self.pairwise],
            "all_parties": self.all_parties,
            "union": self.union,
            "loads": [
                {
                    "party": load.party,
                    "source": load.source,
                    "rows_read": load.rows_read,
                    "accepted": load.accepted,
                    "duplicates": load.duplicates,
                    "invalid": dict(load.invalid),
                }
                for load in self.loads
            ],
            "seconds": round(self.seconds, 3),
            "release": self.release.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OverlapResult:
        """Parse `to_json` output (a cached answer)."""
        return cls(
            query_id=str(data["query_id"]),
            parties=tuple(data["parties"]),
            id_type=str(data["id_type"]),
            set_sizes=dict(data["set_sizes"]),
            regions=tuple((tuple(r["parties"]), r["count"]) for r in data["regions"]),
            pairwise=tuple((p["a"], p["b"], p["count"]) for p in data["pairwise"]),
            all_parties=data["all_parties"],
            union=data.get("union"),
            loads=tuple(PartyLoad(**load) for load in data.get("loads", ())),
            seconds=float(data.get("seconds", 0.0)),
            release=ReleaseInfo.from_json(data.get("release", {})),
        )

    def renamed(self, query_id: str, seconds: float, from_cache: bool) -> OverlapResult:
        """The same answer released again under another query id (an identical repeated query)."""
        return replace(
            self,
            query_id=query_id,
            seconds=seconds,
            release=replace(self.release, from_cache=from_cache),
        )


@dataclass(frozen=True)
class NumericStats:
    """Count, sum, mean and population standard deviation of a numeric attribute."""

    count: int
    sum: float
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class OwnerProfile:
    """The audience profile over one owner's share of the overlap, or all owners combined.

    A suppressed overlap or bin is None; a suppressed numeric attribute is absent from
    `numeric` and named in `suppressed_numeric`. `labels` holds the owner's display names per
    language (`{"zh-CN": {"category": "品类", "category.food_beverage": "食品饮料"}}`), as
    declared in its node.toml for the attributes asked.
    """

    owner: str
    overlap: Count
    categorical: dict[str, dict[str, Count]]
    numeric: dict[str, NumericStats]
    suppressed_numeric: tuple[str, ...] = ()
    release: ReleaseInfo = ReleaseInfo()
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "overlap": self.overlap,
            "categorical": {a: dict(bins) for a, bins in self.categorical.items()},
            "numeric": {
                a: {"count": s.count, "sum": s.sum, "mean": s.mean, "std": s.std}
                for a, s in self.numeric.items()
            },
            "suppressed_numeric": list(self.suppressed_numeric),
            "release": self.release.to_json(),
            "labels": {lang: dict(names) for lang, names in self.labels.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OwnerProfile:
        return cls(
            owner=str(data["owner"]),
            overlap=data["overlap"],
            categorical={a: dict(bins) for a, bins in data["categorical"].items()},
            numeric={a: NumericStats(**s) for a, s in data["numeric"].items()},
            suppressed_numeric=tuple(data.get("suppressed_numeric", ())),
            release=ReleaseInfo.from_json(data.get("release", {})),
            labels={
                str(lang): {str(k): str(v) for k, v in names.items()}
                for lang, names in data.get("labels", {}).items()
            },
        )


@dataclass(frozen=True)
class ProfileResult:
    """A profile query's answer: per owner and (where declarations agree) combined."""

    query_id: str
    querier: str
    owners: tuple[str, ...]
    attributes: tuple[str, ...]
    profiles: tuple[OwnerProfile, ...]
    not_combined: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    from_cache: bool = False
    audience: str = "shared"  # shared, prospects (owners' members the querier lacks) or base

    def labels(self) -> dict[str, dict[str, str]]:
        """The owners' display labels per language, merged (an owner listed earlier wins
        where two owners name the same attribute or bin differently)."""
        merged: dict[str, dict[str, str]] = {}
        for item in self.profiles:
            for lang, names in item.labels.items():
                target = merged.setdefault(lang, {})
                for key, name in names.items():
                    target.setdefault(key, name)
        return merged

    def profile(self, owner: str) -> OwnerProfile:
        """The profile of one owner, or of `combined`."""
        for item in self.profiles:
            if item.owner == owner:
                return item
        raise KeyError(f"no profile for {owner!r}")

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (see README, "Profile JSON")."""
        return {
            "query_id": self.query_id,
            "kind": "profile",
            "querier": self.querier,
            "owners": list(self.owners),
            "attributes": list(self.attributes),
            "profiles": [p.to_json() for p in self.profiles],
            "not_combined": dict(self.not_combined),
            "seconds": round(self.seconds, 3),
            "phase_seconds": dict(self.phases),
            "from_cache": self.from_cache,
            "audience": self.audience,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProfileResult:
        """Parse `to_json` output (a cached answer)."""
        return cls(
            query_id=str(data["query_id"]),
            querier=str(data["querier"]),
            owners=tuple(data["owners"]),
            attributes=tuple(data["attributes"]),
            profiles=tuple(OwnerProfile.from_json(p) for p in data["profiles"]),
            not_combined=dict(data.get("not_combined", {})),
            seconds=float(data.get("seconds", 0.0)),
            phases=dict(data.get("phase_seconds", {})),
            from_cache=bool(data.get("from_cache", False)),
            audience=str(data.get("audience", "shared")),
        )
