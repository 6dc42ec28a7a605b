"""Query results as plain dataclasses: what the SDK returns and the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    set_sizes: dict[str, int]
    regions: tuple[tuple[tuple[str, ...], int], ...]
    pairwise: tuple[tuple[str, str, int], ...]
    all_parties: int
    loads: tuple[PartyLoad, ...] = ()
    seconds: float = 0.0

    def region(self, *parties: str) -> int:
        """The count of elements held by exactly `parties` (order does not matter)."""
        wanted = set(parties)
        for members, count in self.regions:
            if set(members) == wanted:
                return count
        raise KeyError(f"no region for {sorted(wanted)}")

    def pair(self, a: str, b: str) -> int:
        """|A ∩ B| for two queried parties."""
        for x, y, count in self.pairwise:
            if {x, y} == {a, b}:
                return count
        raise KeyError(f"no pair {a}, {b}")

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
        }


@dataclass(frozen=True)
class NumericStats:
    """Count, sum, mean and population standard deviation of a numeric attribute."""

    count: int
    sum: float
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class OwnerProfile:
    """The audience profile over one owner's share of the overlap, or all owners combined."""

    owner: str
    overlap: int
    categorical: dict[str, dict[str, int]]
    numeric: dict[str, NumericStats]


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
            "profiles": [
                {
                    "owner": p.owner,
                    "overlap": p.overlap,
                    "categorical": {a: dict(bins) for a, bins in p.categorical.items()},
                    "numeric": {
                        a: {"count": s.count, "sum": s.sum, "mean": s.mean, "std": s.std}
                        for a, s in p.numeric.items()
                    },
                }
                for p in self.profiles
            ],
            "not_combined": dict(self.not_combined),
            "seconds": round(self.seconds, 3),
            "phase_seconds": dict(self.phases),
        }
