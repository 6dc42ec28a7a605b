"""Terminal rendering of query results with rich tables."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from client.frames import audience_share
from gongying.messages import ENGLISH, Messages
from model.results import ErrorBar, OverlapResult, ProfileResult


def _verdict(
    released: int | None,
    truth: int,
    label: str = "<k",
    half: float | None = None,
    t: Messages = ENGLISH,
) -> str:
    """How a released count compares with the truth: equal (exact), within its 95% error bar
    (noised), hidden (`<k` or `suppressed`), or different."""
    if released is None:
        return t("tty_hidden", label=label)
    if half is not None:
        return t("verdict_within") if abs(released - truth) <= half else t("verdict_outside")
    return t("verdict_ok") if released == truth else t("verdict_different")


def _half(result: OverlapResult, table: str) -> float | None:
    bar = result.release.error_bar(table)
    return None if bar is None else bar.half_width


def region_label(members: tuple[str, ...] | list[str]) -> str:
    """A region's name, e.g. `brand & retailer_a only`."""
    return " & ".join(members) + " only"


def overlap_tables(
    result: OverlapResult,
    truth: Mapping[frozenset[str], int] | None = None,
    t: Messages = ENGLISH,
) -> list[Table]:
    """Set sizes with load reports, exclusive regions (with the truth beside them if given)
    and the pairwise matrix."""
    sizes = Table(title=t("tty_set_sizes", query_id=result.query_id, id_type=result.id_type))
    for key in ("col_party", "col_members", "col_rows_read", "col_duplicates", "col_invalid_rows"):
        sizes.add_column(t(key), justify="left" if key == "col_party" else "right")
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
            t.shown(result.release, result.set_sizes.get(party), f"set_sizes/{party}", "set_sizes"),
            f"{load.rows_read:,}" if load else "-",
            f"{load.duplicates:,}" if load else "-",
            invalid,
        )
    regions = Table(title=t("tty_regions"))
    regions.add_column(t("col_region"))
    regions.add_column(t("col_count"), justify="right")
    if truth is not None:
        regions.add_column(t("tty_truth"), justify="right")
        regions.add_column("", justify="center")
    release = result.release
    for members, count in result.regions:
        if len(members) == len(result.parties):
            continue  # the same members as the all-parties row below: listed once, there
        cell = "regions/" + "+".join(members)
        row = [t.region(members), t.shown(release, count, cell, "regions")]
        if truth is not None:
            expected = truth.get(frozenset(members), 0)
            row += [
                f"{expected:,}",
                _verdict(count, expected, t.label(release, cell), _half(result, "regions"), t),
            ]
        regions.add_row(*row)
    all_row = [
        t("all_parties"),
        t.shown(release, result.all_parties, "all_parties", "all_parties"),
    ]
    if truth is not None:
        expected_all = sum(n for m, n in truth.items() if len(m) == len(result.parties))
        all_row += [
            f"{expected_all:,}",
            _verdict(
                result.all_parties,
                expected_all,
                t.label(release, "all_parties"),
                _half(result, "all_parties"),
                t,
            ),
        ]
    regions.add_row(*all_row, style="bold")
    union_row = [t("tty_union"), t.shown(release, result.union, "union", "union")]
    if truth is not None:
        expected_union = sum(truth.values())
        union_row += [
            f"{expected_union:,}",
            _verdict(
                result.union, expected_union, t.label(release, "union"), _half(result, "union"), t
            ),
        ]
    if result.union is not None or release.k:
        regions.add_row(*union_row)
    matrix = Table(title=t("tty_pairwise"))
    matrix.add_column("")
    for party in result.parties:
        matrix.add_column(party, justify="right")
    for a in result.parties:
        cells = [
            t.shown(release, result.set_sizes.get(a), f"set_sizes/{a}", "set_sizes")
            if a == b
            else t.shown(release, result.pair(a, b), result.pair_cell(a, b), "pairwise")
            for b in result.parties
        ]
        matrix.add_row(a, *cells)
    return [sizes, regions, matrix]


def print_overlap(
    result: OverlapResult,
    console: Console,
    truth: Mapping[frozenset[str], int] | None = None,
    lang: str = "en",
) -> None:
    """Print the overlap tables and the timing, in `lang`."""
    t = Messages(lang)
    for table in overlap_tables(result, truth, t):
        console.print(table)
    release = result.release
    if release.k or release.epsilon or release.from_cache:
        console.print(
            t(
                "tty_release",
                k=release.k,
                hidden=release.suppressed,
                protective=len(release.protective),
            )
            + (t("tty_noise", epsilon=release.epsilon) if release.epsilon else t("tty_exact"))
            + (t("tty_cache") if release.from_cache else "")
        )
        for bar in release.error_bars:
            console.print(f"  {_describe(bar, t)}")
    console.print(t("tty_took", query_id=result.query_id, seconds=result.seconds))


def _describe(bar: ErrorBar, t: Messages = ENGLISH) -> str:
    """One error bar for people: table, mechanism and its parameters, the half-width."""
    return t(
        "tty_bar",
        table=bar.table,
        mechanism=bar.mechanism,
        epsilon=bar.epsilon,
        sensitivity=bar.sensitivity,
        scale=bar.scale,
        cells=bar.noised_cells,
        half=bar.half_width,
    )


def print_profile(result: ProfileResult, console: Console, lang: str = "en") -> None:
    """One table per categorical attribute (owners side by side), one for numeric attributes,
    in `lang` with the owners' display labels of that language."""
    t = Messages(lang).with_labels(result.labels())
    owners = [p.owner for p in result.profiles]
    console.print(
        t(
            "tty_profile",
            query_id=result.query_id,
            querier=result.querier,
            owners=", ".join(result.owners),
        )
    )
    overlap = Table(title=t("tty_shared"))
    for owner in owners:
        overlap.add_column(owner, justify="right")
    overlap.add_row(*(t.shown(p.release, p.overlap, "overlap", "overlap") for p in result.profiles))
    console.print(overlap)
    first = result.profiles[0] if result.profiles else None
    for name in first.categorical if first else {}:
        table = Table(title=t("tty_bins", attribute=t.attribute(name)))
        table.add_column(t("col_bin"))
        for owner in owners:
            table.add_column(owner, justify="right")
        for bin_name in first.categorical[name] if first else {}:
            table.add_row(
                t.bin(name, bin_name),
                *(
                    _with_share(
                        t.shown(
                            p.release,
                            p.categorical.get(name, {}).get(bin_name),
                            f"{name}/{bin_name}",
                            name,
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
        table = Table(title=t("tty_numeric"))
        for key in ("tty_attribute", "col_owner", "col_count", "col_sum", "col_mean", "col_std"):
            table.add_column(
                t(key), justify="left" if key in ("tty_attribute", "col_owner") else "right"
            )
        for name in first.numeric:
            for p in result.profiles:
                s = p.numeric.get(name)
                if s is None:
                    continue
                table.add_row(
                    t.attribute(name),
                    p.owner,
                    p.release.shown(s.count, table=f"{name}.count"),
                    _number(s.sum, p.release.error_bar(f"{name}.sum")),
                    _number(s.mean, p.release.error_bar(f"{name}.mean")),
                    _number(s.std, p.release.error_bar(f"{name}.std")),
                )
        console.print(table)
    for p in result.profiles:
        for bar in p.release.error_bars:
            console.print(f"  {p.owner} {_describe(bar, t)}")
    for name, why in result.not_combined.items():
        console.print(f"[yellow]{t('not_combined', attribute=t.attribute(name), why=why)}[/]")
    console.print(t("tty_took", query_id=result.query_id, seconds=result.seconds))


def _with_share(shown: str, share: float | None) -> str:
    """A released bin with its share of the whole shared audience (hidden bins have none)."""
    return shown if share is None else f"{shown} ({share:.1f}%)"


def _number(value: float | None, bar: ErrorBar | None) -> str:
    """A numeric statistic with its 95% error bar when noised; `-` when undefined."""
    if value is None:
        return "-"
    return f"{value:,.2f}" + (f" ± {bar.half_width:,.2f}" if bar is not None else "")
