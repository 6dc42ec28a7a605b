"""Terminal rendering of query results with rich tables."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from client.frames import audience_share
from model.results import ErrorBar, OverlapResult, ProfileResult


def _verdict(released: int | None, truth: int, label: str = "<k", half: float | None = None) -> str:
    """How a released count compares with the truth: equal (exact), within its 95% error bar
    (noised), hidden (`<k` or `suppressed`), or different."""
    if released is None:
        return f"hidden ({label})"
    if half is not None:
        return "within" if abs(released - truth) <= half else "OUTSIDE"
    return "ok" if released == truth else "DIFFERENT"


def _half(result: OverlapResult, table: str) -> float | None:
    bar = result.release.error_bar(table)
    return None if bar is None else bar.half_width


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
            result.release.shown(result.set_sizes.get(party), f"set_sizes/{party}", "set_sizes"),
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
    release = result.release
    for members, count in result.regions:
        if len(members) == len(result.parties):
            continue  # the same members as the all-parties row below: listed once, there
        cell = "regions/" + "+".join(members)
        row = [region_label(members), release.shown(count, cell, "regions")]
        if truth is not None:
            expected = truth.get(frozenset(members), 0)
            row += [
                f"{expected:,}",
                _verdict(count, expected, release.label(cell), _half(result, "regions")),
            ]
        regions.add_row(*row)
    all_row = [
        "all parties (intersection)",
        release.shown(result.all_parties, "all_parties", "all_parties"),
    ]
    if truth is not None:
        expected_all = sum(n for m, n in truth.items() if len(m) == len(result.parties))
        all_row += [
            f"{expected_all:,}",
            _verdict(
                result.all_parties,
                expected_all,
                release.label("all_parties"),
                _half(result, "all_parties"),
            ),
        ]
    regions.add_row(*all_row, style="bold")
    union_row = ["union (any party)", release.shown(result.union, "union", "union")]
    if truth is not None:
        expected_union = sum(truth.values())
        union_row += [
            f"{expected_union:,}",
            _verdict(result.union, expected_union, release.label("union"), _half(result, "union")),
        ]
    if result.union is not None or release.k:
        regions.add_row(*union_row)
    matrix = Table(title="Pairwise overlap |A ∩ B|")
    matrix.add_column("")
    for party in result.parties:
        matrix.add_column(party, justify="right")
    for a in result.parties:
        cells = [
            release.shown(result.set_sizes.get(a), f"set_sizes/{a}", "set_sizes")
            if a == b
            else release.shown(result.pair(a, b), _pair_cell(result, a, b), "pairwise")
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
            f"release: counts below k={release.k} shown <{release.k} "
            f"({release.suppressed} cells hidden, {len(release.protective)} of them "
            "'suppressed' only to protect others), "
            + (
                f"discrete Laplace noise epsilon={release.epsilon}, ± = 95% interval"
                if release.epsilon
                else "exact counts"
            )
            + (", answer from cache" if release.from_cache else "")
        )
        for bar in release.error_bars:
            console.print(f"  {_describe(bar)}")
    console.print(f"query {result.query_id} took {result.seconds:.2f} s")


def _pair_cell(result: OverlapResult, a: str, b: str) -> str:
    """A pair's cell name in the result's party order."""
    x, y = (a, b) if result.parties.index(a) < result.parties.index(b) else (b, a)
    return f"pairwise/{x}+{y}"


def _describe(bar: ErrorBar) -> str:
    """One error bar for people: table, mechanism and its parameters, the half-width."""
    return (
        f"{bar.table}: {bar.mechanism}, epsilon {bar.epsilon:g}, sensitivity {bar.sensitivity}, "
        f"scale {bar.scale:g}, sum of {bar.noised_cells} noised cell(s), ± {bar.half_width:,.2f}"
    )


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
    overlap.add_row(*(p.release.shown(p.overlap, "overlap", "overlap") for p in result.profiles))
    console.print(overlap)
    first = result.profiles[0] if result.profiles else None
    for name in first.categorical if first else {}:
        table = Table(title=f"{name} (members per bin, % of the owner's shared audience)")
        table.add_column("bin")
        for owner in owners:
            table.add_column(owner, justify="right")
        for bin_name in first.categorical[name] if first else {}:
            table.add_row(
                bin_name,
                *(
                    _with_share(
                        p.release.shown(
                            p.categorical.get(name, {}).get(bin_name), f"{name}/{bin_name}", name
                        ),
                        audience_share(p.categorical.get(name, {}).get(bin_name), p.overlap),
                    )
                    if bin_name in p.categorical.get(name, {})
                    else "-"
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
                    p.release.shown(s.count, table=f"{name}.count"),
                    _number(s.sum, p.release.error_bar(f"{name}.sum")),
                    _number(s.mean, p.release.error_bar(f"{name}.mean")),
                    _number(s.std, p.release.error_bar(f"{name}.std")),
                )
        console.print(table)
    for p in result.profiles:
        for bar in p.release.error_bars:
            console.print(f"  {p.owner} {_describe(bar)}")
    for name, why in result.not_combined.items():
        console.print(f"[yellow]{name} not combined across owners: {why}[/]")
    console.print(f"query {result.query_id} took {result.seconds:.2f} s")


def _with_share(shown: str, share: float | None) -> str:
    """A released bin with its share of the whole shared audience (hidden bins have none)."""
    return shown if share is None else f"{shown} ({share:.1f}%)"


def _number(value: float | None, bar: ErrorBar | None) -> str:
    """A numeric statistic with its 95% error bar when noised; `-` when undefined."""
    if value is None:
        return "-"
    return f"{value:,.2f}" + (f" ± {bar.half_width:,.2f}" if bar is not None else "")
