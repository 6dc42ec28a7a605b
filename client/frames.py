"""Query results as pandas DataFrames: regions, the pairwise matrix, profiles per attribute.

`profile_table` puts every released number of a profile in one long table (what `query profile
--csv` writes), each bin with its share of the owner's whole shared audience.

Noise and suppression travel with the numbers: the regions frame has a `half_width` column (the
95% error bar, NA for exact counts) and a `status` column (`released`, `<k` or `suppressed`);
the other frames carry the same in `frame.attrs` (`half_width`: the error bar per table or per
owner; `status`: the label of every hidden cell).
"""

from __future__ import annotations

import pandas as pd

from model.results import OverlapResult, ProfileResult, ReleaseInfo

NUMERIC_COLUMNS = ("count", "sum", "mean", "std")


def region_name(members: tuple[str, ...] | list[str]) -> str:
    """A region's name in a table or chart: its parties joined by ` & `."""
    return " & ".join(members)


def _half_width(release: ReleaseInfo, table: str) -> float | None:
    bar = release.error_bar(table)
    return None if bar is None else bar.half_width


def _status(release: ReleaseInfo, count: object, cell: str) -> str:
    return "released" if count is not None else release.label(cell)


def regions_frame(result: OverlapResult) -> pd.DataFrame:
    """One row per exclusive region (index: its name): a membership column per party (bool),
    `degree` (how many parties hold it), `count` (nullable Int64: a hidden count is NA),
    `half_width` (the 95% error bar of a noised count; NA when exact) and `status`."""
    half = _half_width(result.release, "regions")
    rows = [
        {
            **{party: party in members for party in result.parties},
            "degree": len(members),
            "count": count,
            "half_width": half,
            "status": _status(result.release, count, "regions/" + "+".join(members)),
        }
        for members, count in result.regions
    ]
    frame = pd.DataFrame(
        rows,
        columns=[*result.parties, "degree", "count", "half_width", "status"],
        index=pd.Index([region_name(m) for m, _ in result.regions], name="region"),
    )
    frame = frame.astype({party: bool for party in result.parties})
    return frame.astype({"degree": "int64", "count": "Int64", "half_width": "Float64"})


def pairwise_frame(result: OverlapResult) -> pd.DataFrame:
    """The square |A ∩ B| matrix over the queried parties, set sizes on the diagonal."""
    parties = list(result.parties)
    cells = [
        [result.set_sizes.get(a) if a == b else result.pair(a, b) for b in parties] for a in parties
    ]
    frame = pd.DataFrame(
        cells,
        index=pd.Index(parties, name="party"),
        columns=pd.Index(parties, name="party"),
    ).astype("Int64")
    release = result.release
    frame.attrs["half_width"] = {
        table: _half_width(release, table) for table in ("set_sizes", "pairwise")
    }
    hidden = {f"set_sizes/{p}": n for p, n in result.set_sizes.items()}
    hidden |= {f"pairwise/{a}+{b}": n for a, b, n in result.pairwise}
    frame.attrs["status"] = {c: release.label(c) for c, n in hidden.items() if n is None}
    return frame


def profile_frames(result: ProfileResult) -> dict[str, pd.DataFrame]:
    """One frame per attribute, in the query's order: bins x owners (members per bin, Int64)
    for a categorical attribute; owners x (count, sum, mean, std) for a numeric one. Owners
    include `combined` where the result has it; a cell an owner did not report is NA."""
    frames: dict[str, pd.DataFrame] = {}
    owners = [p.owner for p in result.profiles]
    for attribute in result.attributes:
        holders = [p for p in result.profiles if attribute in p.categorical]
        if holders:
            bins: list[str] = []
            for p in holders:
                bins += [b for b in p.categorical[attribute] if b not in bins]
            table = {
                p.owner: [p.categorical.get(attribute, {}).get(b) for b in bins]
                for p in result.profiles
                if attribute in p.categorical
            }
            frame = pd.DataFrame(
                table,
                index=pd.Index(bins, name=attribute),
                columns=pd.Index([o for o in owners if o in table], name="owner"),
            )
            frames[attribute] = frame.astype("Int64")
            frames[attribute].attrs["half_width"] = {
                p.owner: _half_width(p.release, attribute) for p in holders
            }
            frames[attribute].attrs["status"] = {
                (p.owner, b): p.release.label(f"{attribute}/{b}")
                for p in holders
                for b, n in p.categorical[attribute].items()
                if n is None
            }
            continue
        stats = {p.owner: p.numeric[attribute] for p in result.profiles if attribute in p.numeric}
        if not stats:
            continue
        numeric = pd.DataFrame(
            [[s.count, s.sum, s.mean, s.std] for s in stats.values()],
            index=pd.Index(list(stats), name="owner"),
            columns=list(NUMERIC_COLUMNS),
        )
        frames[attribute] = numeric.astype(
            {"count": "int64", "sum": "float64", "mean": "float64", "std": "float64"}
        )
        frames[attribute].attrs["half_width"] = {
            p.owner: {c: _half_width(p.release, f"{attribute}.{c}") for c in NUMERIC_COLUMNS}
            for p in result.profiles
            if attribute in p.numeric
        }
    return frames


PROFILE_TABLE_COLUMNS = (
    "owner",
    "attribute",
    "bin",
    "statistic",
    "value",
    "half_width",
    "status",
    "share_of_audience",
)


def profile_table(result: ProfileResult) -> pd.DataFrame:
    """Every released number of a profile as one long table (what `--csv` writes): per owner
    (then `combined`) the shared audience (statistic `overlap`), one row per bin (statistic
    `members`) and one per numeric statistic (`count`, `sum`, `mean`, `std`). `value` is NA
    when hidden (`status` says `<k` or `suppressed`), `half_width` the 95% error bar of a noised
    value, and `share_of_audience` a bin's members as a percentage of that owner's shared
    audience (the overlap), not of the bins that happen to be visible."""
    rows: list[dict[str, object]] = []
    for p in result.profiles:
        release = p.release
        rows.append(
            {
                "owner": p.owner,
                "attribute": "",
                "bin": "",
                "statistic": "overlap",
                "value": p.overlap,
                "half_width": _half_width(release, "overlap"),
                "status": _status(release, p.overlap, "overlap"),
                "share_of_audience": None,
            }
        )
        for attribute in result.attributes:
            bins = p.categorical.get(attribute)
            if bins is not None:
                rows += [
                    {
                        "owner": p.owner,
                        "attribute": attribute,
                        "bin": name,
                        "statistic": "members",
                        "value": n,
                        "half_width": _half_width(release, attribute),
                        "status": _status(release, n, f"{attribute}/{name}"),
                        "share_of_audience": audience_share(n, p.overlap),
                    }
                    for name, n in bins.items()
                ]
            stats = p.numeric.get(attribute)
            if stats is not None:
                values = {"count": stats.count, "sum": stats.sum, "mean": stats.mean}
                values["std"] = stats.std
                rows += [
                    {
                        "owner": p.owner,
                        "attribute": attribute,
                        "bin": "",
                        "statistic": name,
                        "value": value,
                        "half_width": _half_width(release, f"{attribute}.{name}"),
                        "status": "released" if value is not None else "undefined",
                        "share_of_audience": None,
                    }
                    for name, value in values.items()
                ]
            elif attribute in p.suppressed_numeric:
                rows.append(
                    {
                        "owner": p.owner,
                        "attribute": attribute,
                        "bin": "",
                        "statistic": "count",
                        "value": None,
                        "half_width": None,
                        "status": release.label(attribute),
                        "share_of_audience": None,
                    }
                )
    frame = pd.DataFrame(rows, columns=list(PROFILE_TABLE_COLUMNS))
    return frame.astype(
        {"value": "Float64", "half_width": "Float64", "share_of_audience": "Float64"}
    )


def audience_share(members: int | None, audience: int | None) -> float | None:
    """`members` as a percentage of the shared audience; None when either is hidden or the
    audience is empty."""
    if members is None or not audience:
        return None
    return 100.0 * members / audience
