"""A period's measurements: the numbers an agreement's queries released.

Each is named as the audit log names it (`release.overlap`), with the query that
released it and its error bar."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from client.sdk import CoordinatorClient
from model.results import OverlapResult, OwnerProfile, ProfileResult
from release.overlap import overlap_cells, profile_cells
from settlement.agreement import Agreement, AgreementError

OVERLAP: Final = "overlap"
PROFILE: Final = "profile"


class MeasurementMissing(AgreementError):
    """A number a metric needs was not released (hidden below k, withheld) or not recorded."""


@dataclass(frozen=True)
class Cell:
    """One released number: which query released it, its audit-log name, value and 95% bar."""

    kind: str
    query_id: str
    name: str
    value: int
    half_width: float | None = None  # None: exact

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "query_id": self.query_id,
            "cell": self.name,
            "value": self.value,
            "half_width": self.half_width,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cell:
        half = data.get("half_width")
        return cls(
            str(data["kind"]),
            str(data["query_id"]),
            str(data["cell"]),
            int(data["value"]),
            None if half is None else float(half),
        )


@dataclass(frozen=True)
class Measurements:
    """Every released number of a period's queries, looked up by (kind, cell name)."""

    cells: tuple[Cell, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for cell in self.cells:
            key = (cell.kind, cell.name)
            if key in seen:
                raise MeasurementMissing(f"{cell.kind} cell {cell.name} is recorded twice")
            seen.add(key)

    def get(self, kind: str, name: str, why: str) -> Cell:
        """The cell, or MeasurementMissing saying which number `why` needs."""
        for cell in self.cells:
            if cell.kind == kind and cell.name == name:
                return cell
        query = next((c.query_id for c in self.cells if c.kind == kind), None)
        where = f"query {query}" if query else f"no {kind} query"
        raise MeasurementMissing(
            f"{why} needs {kind} cell {name!r}, which {where} did not release (hidden below k "
            "or withheld) or the record does not hold"
        )

    def regions(self) -> dict[frozenset[str], Cell]:
        """The overlap's exclusive regions by the set of parties holding them."""
        return {
            frozenset(c.name.split("+")): c
            for c in self.cells
            if c.kind == OVERLAP and c.name != "all"
        }

    def overlap_parties(self) -> frozenset[str]:
        """Every party of the recorded overlap query."""
        return frozenset().union(*self.regions())


def overlap_measurements(result: OverlapResult) -> list[Cell]:
    """The overlap's released cells, with the 95% half-width of one noised region."""
    bar = result.release.error_bar("regions")
    half = None if bar is None else bar.half_width
    return [Cell(OVERLAP, result.query_id, n, v, half) for n, v in overlap_cells(result).items()]


def _profile_half(profile: OwnerProfile, cell: str) -> float | None:
    """The error bar of one profile cell (`owner`, `owner/attr/bin`, `owner/attr:stat`)."""
    rest = cell.partition("/")[2]
    if not rest:
        table = "overlap"
    elif ":" in rest:
        attribute, _, stat = rest.partition(":")
        table = f"{attribute}.{stat}"
    else:
        table = rest.partition("/")[0]
    bar = profile.release.error_bar(table)
    return None if bar is None else bar.half_width


def profile_measurements(result: ProfileResult) -> list[Cell]:
    """The profile's released cells (the audit log's names), each with its error bar."""
    cells = []
    for profile in result.profiles:
        for name, value in profile_cells([profile]).items():
            half = _profile_half(profile, name)
            cells.append(Cell(PROFILE, result.query_id, name, value, half))
    return cells


def measure(
    client: CoordinatorClient, agreement: Agreement, period: str, timeout: float = 900.0
) -> Measurements:
    """Run the agreement's queries for `period`, signed for the agreement: one overlap of the
    querier and every partner when a pool needs reach, one shared-audience profile of every
    partner when a pool needs attributes. Each node charges its budget as for any query."""
    parties = [agreement.querier, *agreement.partners]
    tag = f"settle-{agreement.hash[:12]}-{period}"
    cells: list[Cell] = []
    if agreement.needs_overlap():
        result = client.overlap(
            parties,
            agreement.id_type,
            query_id=f"{tag}-overlap-{uuid.uuid4().hex[:8]}",
            timeout=timeout,
            agreement=agreement.hash,
        )
        cells += overlap_measurements(result)
    attributes = agreement.profile_attributes()
    if attributes:
        profile = client.profile(
            agreement.querier,
            agreement.partners,
            attributes,
            agreement.id_type,
            query_id=f"{tag}-profile-{uuid.uuid4().hex[:8]}",
            timeout=timeout,
            agreement=agreement.hash,
        )
        cells += profile_measurements(profile)
    return Measurements(tuple(cells))


def measurements_of(cells: Iterable[Cell]) -> Measurements:
    """Measurements from recorded cells (a statement's inputs)."""
    return Measurements(tuple(cells))
