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
