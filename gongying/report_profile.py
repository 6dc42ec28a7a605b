"""The report's profile section: bins per owner with shares, numeric statistics."""

from __future__ import annotations

from collections.abc import Mapping

from client.frames import audience_share
from gongying.messages import ENGLISH, Messages
from gongying.report_charts import bars
from gongying.report_html import colours_for, esc, fmt_number, fmt_share, legend, table
from model.results import NumericStats, ProfileResult


def _categorical(
    result: ProfileResult, attribute: str, colours: Mapping[str, str], t: Messages = ENGLISH
) -> str:
    holders = [p for p in result.profiles if attribute in p.categorical]
    bins: list[str] = []
    for p in holders:
        bins += [b for b in p.categorical[attribute] if b not in bins]
    # percentages are over each owner's shared audience (its overlap), never over the bins
    # that happen to be visible: a hidden bin still holds members of that audience
    totals = {p.owner: p.overlap for p in holders}
    groups = [
        (
            t.bin(attribute, b),
            [
                (
                    p.owner,
                    audience_share(p.categorical[attribute].get(b), totals[p.owner]) or 0.0,
                    t.shown(
                        p.release, p.categorical[attribute].get(b), f"{attribute}/{b}", attribute
                    )
                    + (
                        f" ({fmt_share(p.categorical[attribute].get(b), totals[p.owner])})"
                        if fmt_share(p.categorical[attribute].get(b), totals[p.owner])
                        else ""
                    ),
                )
                for p in holders
            ],
        )
        for b in bins
    ]
    rows = [
        [
            t.bin(attribute, b),
            *(
                cell
                for p in holders
                for cell in (
                    t.shown(
                        p.release, p.categorical[attribute].get(b), f"{attribute}/{b}", attribute
                    )
                    if b in p.categorical[attribute]
                    else "-",
                    fmt_share(p.categorical[attribute].get(b), totals[p.owner]) or "-",
                )
            ),
        ]
        for b in bins
    ]
    rows.append(
        [
            t("shared_audience"),
            *(
                cell
                for p in holders
                for cell in (t.shown(p.release, p.overlap, "overlap", "overlap"), "100.0%")
            ),
        ]
    )
    name = t.attribute(attribute)
    header = [
        t("col_bin"),
        *(h for p in holders for h in (p.owner, t("col_share_of", owner=p.owner))),
    ]
    return (
        f"<h3>{esc(name)}</h3>"
        f'<p class="note">{esc(t("categorical_note"))}</p>'
        + legend([p.owner for p in holders], colours)
        + f'<div class="pair"><div class="chart">{bars(groups, colours, name)}</div>'
        + table(header, rows, t)
        + "</div>"
    )


def _numeric(
    result: ProfileResult, attribute: str, colours: Mapping[str, str], t: Messages = ENGLISH
) -> str:
    stats: dict[str, NumericStats] = {
        p.owner: p.numeric[attribute] for p in result.profiles if attribute in p.numeric
    }
    groups = [
        (
            owner,
            [
                (
                    owner,
                    s.mean,
                    t("not_computable")
                    if s.mean is None
                    else t("mean_pm_std", mean=fmt_number(s.mean), std=fmt_number(s.std)),
                )
            ],
        )
        for owner, s in stats.items()
    ]
    releases = {p.owner: p.release for p in result.profiles}

    def noised(owner: str, stat: str, text: str) -> str:
        bar = releases[owner].error_bar(f"{attribute}.{stat}")
        return text if bar is None or text == "-" else f"{text} ± {fmt_number(bar.half_width)}"

    rows = [
        [
            owner,
            noised(owner, "count", f"{s.count:,}"),
            noised(owner, "sum", fmt_number(s.sum)),
            noised(owner, "mean", fmt_number(s.mean)),
            noised(owner, "std", fmt_number(s.std)),
        ]
        for owner, s in stats.items()
    ]
    name = t.attribute(attribute)
    header = [t("col_owner"), t("col_count"), t("col_sum"), t("col_mean"), t("col_std")]
    return (
        f"<h3>{esc(name)}</h3>"
        f'<p class="note">{esc(t("numeric_note"))}</p>'
        + f'<div class="pair"><div class="chart">{bars(groups, colours, name)}</div>'
        + table(header, rows, t)
        + "</div>"
    )


def profile_section(result: ProfileResult, t: Messages = ENGLISH) -> str:
    owners = [p.owner for p in result.profiles]
    colours = colours_for(owners)
    overlap_groups = [
        (
            t("shared_audience"),
            [
                (
                    p.owner,
                    float(p.overlap or 0),
                    t.shown(p.release, p.overlap, "overlap", "overlap"),
                )
                for p in result.profiles
            ],
        )
    ]
    note = "profile_note_combined" if "combined" in owners else "profile_note"
    parts = [
        f'<section id="profile"><h2>{esc(t("profile_heading"))}</h2>',
        '<p class="note">'
        + esc(
            t(
                note,
                query_id=result.query_id,
                querier=result.querier,
                owners=", ".join(result.owners),
            )
        )
        + "</p>",
        legend(owners, colours),
        f'<div class="chart">{bars(overlap_groups, colours, t("shared_audience"))}</div>',
    ]
    for attribute in result.attributes:
        if any(attribute in p.categorical for p in result.profiles):
            parts.append(_categorical(result, attribute, colours, t))
        elif any(attribute in p.numeric for p in result.profiles):
            parts.append(_numeric(result, attribute, colours, t))
    if result.not_combined:
        parts.append(
            '<ul class="warnings">'
            + "".join(
                f"<li>{esc(t('not_combined', attribute=t.attribute(a), why=why))}</li>"
                for a, why in result.not_combined.items()
            )
            + "</ul>"
        )

    parts.append("</section>")
    return "".join(parts)
