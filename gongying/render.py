"""Terminal rendering of query results with rich tables."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from coordinator.results import OverlapResult, ProfileResult


def _verdict(released: int | None, truth: int) -> str:
    """How a released count compares with the truth: equal, suppressed, or different."""
    if released is None:
        return "hidden (<k)"
    return "ok" if released == truth else "DIFFERENT"


def region_label(members: tuple[str, ...] | list[str]) -> str:
    """A region's name, e.g. `brand & retailer_a only`."""
    return " & ".join(members) + " only"


def overlap_tables(
    result: OverlapResult, truth: Mapping[frozenset[str], int] | None = None
) -> list[Table]:
    """Set sizes with load reports, exclusive regions (with the truth beside them if given)
    and the pairwise matrix."""
    sizes = Table(title=f"Overlap {result.query_id} on {result.id_type}: set sizes")
    for column in ("party", "members", "rows read", "duplicates", "invalid rows"):
        sizes.add_column(column, justify="left" if column == "party" else "right")
    loads = {load.party: load for load in result.loads}
    for party in result.parties:
        load = loads.get(party)
        invalid = (
            ", ".join(f"{reason} {n}" for reason, n in sorted(load.invalid.items())) or "0"
            if load
            else "-"
        )
        sizes.add_row(
            party,
            result.release.shown(result.set_sizes.get(party, 0)),
            f"{load.rows_read:,}" if load else "-",
            f"{load.duplicates:,}" if load else "-",
            invalid,
        )
    regions = Table(title="Exclusive regions (members in exactly these parties)")
    regions.add_column("region")
    regions.add_column("count", justify="right")
    if truth is not None:
        regions.add_column("plaintext truth", justify="right")
        regions.add_column("", justify="center")
    for members, count in result.regions:
        row = [region_label(members), result.release.shown(count)]
        if truth is not None:
            expected = truth.get(frozenset(members), 0)
            row += [f"{expected:,}", _verdict(count, expected)]
        regions.add_row(*row)
    all_row = ["all parties (intersection)", result.release.shown(result.all_parties)]
    if truth is not None:
        expected_all = sum(n for m, n in truth.items() if len(m) == len(result.parties))
        all_row += [
            f"{expected_all:,}",
            _verdict(result.all_parties, expected_all),
        ]
    regions.add_row(*all_row, style="bold")
    matrix = Table(title="Pairwise overlap |A ∩ B|")
    matrix.add_column("")
    for party in result.parties:
        matrix.add_column(party, justify="right")
    for a in result.parties:
        cells = [
            result.release.shown(result.set_sizes.get(a, 0))
            if a == b
            else result.release.shown(result.pair(a, b))
            for b in result.parties
        ]
        matrix.add_row(a, *cells)
    return [sizes, regions, matrix]


def print_overlap(
    result: OverlapResult,
    console: Console,
    truth: Mapping[frozenset[str], int] | None = None,
) -> None:
    """Print the overlap tables and the timing."""
    for table in overlap_tables(result, truth):
        console.print(table)
    release = result.release
    if release.k or release.epsilon or release.from_cache:
        console.print(
            f"release: counts below k={release.k} suppressed ({release.suppressed} cells), "
            f"noise epsilon={release.epsilon}"
            + (", answer from cache" if release.from_cache else "")
        )
    console.print(f"query {result.query_id} took {result.seconds:.2f} s")


def print_profile(result: ProfileResult, console: Console) -> None:
    """One table per categorical attribute (owners side by side), one for numeric attributes."""
    owners = [p.owner for p in result.profiles]
    console.print(
        f"Profile {result.query_id}: audience {result.querier} shares with "
        f"{', '.join(result.owners)}"
    )
    overlap = Table(title="Shared audience (overlap with the querier)")
    for owner in owners:
        overlap.add_column(owner, justify="right")
    overlap.add_row(*(p.release.shown(p.overlap) for p in result.profiles))
    console.print(overlap)
    first = result.profiles[0] if result.profiles else None
    for name in first.categorical if first else {}:
        table = Table(title=f"{name} (members per bin)")
        table.add_column("bin")
        for owner in owners:
            table.add_column(owner, justify="right")
        for bin_name in first.categorical[name] if first else {}:
            table.add_row(
                bin_name,
                *(
                    p.release.shown(p.categorical.get(name, {}).get(bin_name, 0))
                    for p in result.profiles
                ),
            )
        console.print(table)
    if first and first.numeric:
        table = Table(title="Numeric attributes")
        for column in ("attribute", "owner", "count", "sum", "mean", "std"):
            table.add_column(
                column, justify="left" if column in ("attribute", "owner") else "right"
            )
        for name in first.numeric:
            for p in result.profiles:
                s = p.numeric.get(name)
                if s is None:
                    continue
                table.add_row(
                    name,
                    p.owner,
                    f"{s.count:,}",
                    f"{s.sum:,.2f}",
                    "-" if s.mean is None else f"{s.mean:,.2f}",
                    "-" if s.std is None else f"{s.std:,.2f}",
                )
        console.print(table)
    for name, why in result.not_combined.items():
        console.print(f"[yellow]{name} not combined across owners: {why}[/]")
    console.print(f"query {result.query_id} took {result.seconds:.2f} s")
