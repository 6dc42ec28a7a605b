"""A self-contained HTML report of query results: inline CSS and SVG charts, nothing fetched."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client import insights
from client.frames import audience_share, profile_table, region_name, regions_frame
from client.insights import Contribution
from client.prospects import JointAnalysis
from gongying.joint_render import count_text, ratio_text
from gongying.messages import ENGLISH, Messages, check_language
from model.results import NumericStats, OverlapResult, ProfileResult, ReleaseInfo

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#b07aa1",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
)
COMBINED_COLOUR = "#3f4756"
SUPPRESSED = "suppressed"
UNKNOWN = "not computable"

CSS = """
:root { --ink:#1f2430; --muted:#5b6475; --line:#d9dee7; --card:#ffffff; --bg:#f3f5f9;
  --accent:#2b6cb0; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC",
  "Helvetica Neue", Arial, sans-serif; }
header { background:#1f2a44; color:#fff; padding:22px 32px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header p { margin:0; color:#c9d3e6; }
main { max-width:1200px; margin:0 auto; padding:20px 24px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:18px 22px; margin:0 0 18px; }
h2 { margin:0 0 4px; font-size:18px; font-weight:600; }
h3 { margin:18px 0 6px; font-size:15px; font-weight:600; }
p.note { margin:2px 0 12px; color:var(--muted); }
.chart { overflow-x:auto; margin:6px 0 10px; max-width:100%; }
.pair { display:flex; flex-wrap:wrap; gap:8px 36px; align-items:flex-start; }
svg text { font-family:inherit; }
table { border-collapse:collapse; margin:6px 0 8px; font-variant-numeric:tabular-nums; }
th, td { border-bottom:1px solid var(--line); padding:4px 12px 4px 0; text-align:right; }
th { color:var(--muted); font-weight:600; }
th:first-child, td:first-child { text-align:left; }
td.suppressed, span.suppressed { color:#a0522d; font-style:italic; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:8px 0 4px; }
.card { border:1px solid var(--line); border-radius:6px; padding:8px 14px; min-width:150px; }
.card .value { font-size:20px; font-weight:600; }
.card .label { color:var(--muted); font-size:12px; }
.legend { display:flex; flex-wrap:wrap; gap:14px; margin:4px 0; color:var(--muted); }
.legend i { display:inline-block; width:12px; height:12px; border-radius:2px;
  margin-right:5px; vertical-align:-1px; }
ul.warnings { margin:6px 0; padding-left:18px; color:#a0522d; }
dl.provenance { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:6px 0; }
dl.provenance dt { color:var(--muted); font-weight:600; }
dl.provenance dd { margin:0; overflow-wrap:anywhere; }
dl.provenance dl.provenance { margin:0; }
footer { color:var(--muted); text-align:center; font-size:12px; padding:0 0 24px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt_count(value: int | None) -> str:
    """A count as the report prints it: `12,345`, or `suppressed` for an unknown count."""
    return SUPPRESSED if value is None else f"{value:,}"


def fmt_number(value: float | None) -> str:
    """A statistic as the report prints it: two decimals with separators, `-` when undefined."""
    return "-" if value is None else f"{value:,.2f}"


def fmt_share(part: float | None, whole: float | None) -> str:
    """`part` as a percentage of `whole`, one decimal."""
    if part is None or not whole:
        return ""
    return f"{100 * part / whole:.1f}%"


def _text_width(text: str, size: float = 12) -> float:
    return 0.62 * size * len(text)


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg role="img" aria-label="{_e(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}">' + "".join(body) + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    anchor: str = "start",
    size: float = 12,
    fill: str = "#1f2430",
    weight: str = "normal",
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}" font-weight="{weight}"{extra}>{_e(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}"{extra}/>'
    )


def _colours(names: Sequence[str]) -> dict[str, str]:
    colours: dict[str, str] = {}
    for i, name in enumerate(n for n in names if n != "combined"):
        colours[name] = PALETTE[i % len(PALETTE)]
    colours["combined"] = COMBINED_COLOUR
    return colours


def _legend(names: Sequence[str], colours: Mapping[str, str]) -> str:
    items = "".join(f'<span><i style="background:{colours[n]}"></i>{_e(n)}</span>' for n in names)
    return f'<div class="legend">{items}</div>'


def _count(value: int | None, t: Messages) -> str:
    """A count in `t`'s language: `12,345`, or `suppressed` for an unknown count."""
    return t("suppressed") if value is None else f"{value:,}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], t: Messages = ENGLISH) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    hidden = t.hidden_words()
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="suppressed">{_e(c)}</td>'
            if c in hidden or c.startswith("<")
            else f"<td>{_e(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def upset_chart(result: OverlapResult, t: Messages = ENGLISH) -> str:
    """Exclusive regions as an UpSet chart: a bar per region over its membership dot matrix."""
    parties = list(result.parties)
    regions = sorted(result.regions, key=lambda r: (r[1] is None, -(r[1] or 0), len(r[0])))
    labels = [f"{p} ({_count(result.set_sizes.get(p, 0), t)})" for p in parties]
    left = max(_text_width(t) for t in labels) + 24
    widest = max((len(f"{c:,}") for _, c in regions if c is not None), default=6)
    column = max(34.0, _text_width("0" * widest, 11) + 10)
    top, bars, row = 22.0, 190.0, 24.0
    width = left + column * len(regions) + 12
    height = top + bars + 12 + row * len(parties) + 8
    peak = max((c or 0 for _, c in regions), default=0) or 1
    body: list[str] = []
    matrix_top = top + bars + 12
    for i, label in enumerate(labels):
        y = matrix_top + i * row
        if i % 2 == 0:
            body.append(_rect(left - 6, y, column * len(regions) + 6, row, "#f1f3f8"))
        body.append(_text(left - 12, y + row / 2 + 4, label, anchor="end"))
    body.append(
        f'<line x1="{left - 6:.1f}" y1="{top + bars:.1f}" x2="{width - 6:.1f}" '
        f'y2="{top + bars:.1f}" stroke="#9aa3b2"/>'
    )
    for j, (members, count) in enumerate(regions):
        x = left + j * column
        centre = x + column / 2
        name = region_name(list(members))
        if count is None:
            body.append(
                _rect(
                    x + 6,
                    top + bars - 40,
                    column - 12,
                    40,
                    "none",
                    ' stroke="#a0522d" stroke-dasharray="4 3"',
                )
            )
            body.append(
                _text(
                    centre,
                    top + bars - 46,
                    t("chart_suppressed"),
                    anchor="middle",
                    size=10,
                    fill="#a0522d",
                )
            )
        else:
            h = bars * count / peak
            body.append(
                _rect(x + 6, top + bars - h, column - 12, h, "#4e79a7").replace(
                    "/>", f"><title>{_e(name)}: {count:,}</title></rect>"
                )
            )
            body.append(_text(centre, top + bars - h - 5, f"{count:,}", anchor="middle", size=11))
        rows = [i for i, p in enumerate(parties) if p in members]
        if len(rows) > 1:
            y1 = matrix_top + rows[0] * row + row / 2
            y2 = matrix_top + rows[-1] * row + row / 2
            body.append(
                f'<line x1="{centre:.1f}" y1="{y1:.1f}" x2="{centre:.1f}" y2="{y2:.1f}" '
                'stroke="#1f2430" stroke-width="2.5"/>'
            )
        for i in range(len(parties)):
            y = matrix_top + i * row + row / 2
            fill = "#1f2430" if i in rows else "#d4d9e3"
            body.append(f'<circle cx="{centre:.1f}" cy="{y:.1f}" r="6" fill="{fill}"/>')
    return _svg(width, height, body, t("chart_upset"))


def _blend(fraction: float) -> str:
    low, high = (0xF4, 0xF7, 0xFB), (0x1F, 0x5A, 0x9E)
    f = min(max(fraction, 0.0), 1.0)
    return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(low, high, strict=True))


def heatmap_chart(result: OverlapResult, t: Messages = ENGLISH) -> str:
    """The pairwise overlap matrix; a cell's shade is the share of the row party's members
    that the column party also holds."""
    parties = list(result.parties)
    left = max(_text_width(p) for p in parties) + 20
    cell_w = max(
        96.0,
        max(_text_width(p) for p in parties) + 16,
        max(_text_width(t("chart_share_of", share="100.0%", party=p), 10) for p in parties) + 14,
    )
    cell_h = 46.0
    top = 28.0
    body: list[str] = []
    for j, b in enumerate(parties):
        body.append(_text(left + j * cell_w + cell_w / 2, top - 10, b, anchor="middle"))
    for i, a in enumerate(parties):
        y = top + i * cell_h
        body.append(_text(left - 10, y + cell_h / 2 + 4, a, anchor="end"))
        size = result.set_sizes.get(a, 0)
        for j, b in enumerate(parties):
            x = left + j * cell_w
            if a == b:
                body.append(_rect(x + 1, y + 1, cell_w - 2, cell_h - 2, "#e3e7ef"))
                body.append(
                    _text(x + cell_w / 2, y + 20, _count(size, t), anchor="middle", weight="bold")
                )
                body.append(
                    _text(
                        x + cell_w / 2,
                        y + 36,
                        t("chart_members"),
                        anchor="middle",
                        size=10,
                        fill="#5b6475",
                    )
                )
                continue
            shown = result.pair(a, b)
            count = shown or 0
            fraction = count / size if size else 0.0
            ink = "#ffffff" if fraction > 0.5 else "#1f2430"
            body.append(
                _rect(x + 1, y + 1, cell_w - 2, cell_h - 2, _blend(fraction)).replace(
                    "/>",
                    f"><title>{_e(a)} ∩ {_e(b)}: "
                    f"{_e(t.shown(result.release, shown, _pair_cell(result, a, b), 'pairwise'))}"
                    "</title></rect>",
                )
            )
            body.append(_text(x + cell_w / 2, y + 20, _count(shown, t), anchor="middle", fill=ink))
            body.append(
                _text(
                    x + cell_w / 2,
                    y + 36,
                    t("chart_share_of", share=fmt_share(count, size), party=a) if size else "",
                    anchor="middle",
                    size=10,
                    fill=ink,
                )
            )
    width = left + cell_w * len(parties) + 8
    height = top + cell_h * len(parties) + 8
    return _svg(width, height, body, t("chart_heatmap"))


def _bars(
    groups: Sequence[tuple[str, Sequence[tuple[str, float | None, str]]]],
    colours: Mapping[str, str],
    label: str,
) -> str:
    """Horizontal grouped bars: per group, one bar per (series, value, text)."""
    names = [g for g, _ in groups]
    left = max((_text_width(n) for n in names), default=40) + 18
    texts = [t for _, series in groups for _, _, t in series]
    room = max((_text_width(t, 11) for t in texts), default=40) + 14
    span = 520.0
    peak = max((v or 0 for _, s in groups for _, v, _ in s), default=0) or 1
    bar, gap = 14.0, 12.0
    body: list[str] = []
    y = 6.0
    for name, series in groups:
        block = bar * len(series)
        body.append(_text(left - 10, y + block / 2 + 4, name, anchor="end"))
        for key, value, text in series:
            w = span * (value or 0) / peak
            if value is None:
                body.append(
                    _rect(
                        left, y + 1, 40, bar - 2, "none", ' stroke="#a0522d" stroke-dasharray="3 2"'
                    )
                )
                body.append(_text(left + 46, y + bar - 3, text, size=11, fill="#a0522d"))
            else:
                body.append(
                    _rect(left, y + 1, w, bar - 2, colours[key]).replace(
                        "/>", f"><title>{_e(name)}, {_e(key)}: {_e(text)}</title></rect>"
                    )
                )
                body.append(_text(left + w + 5, y + bar - 3, text, size=11))
            y += bar
        y += gap
    body.append(
        f'<line x1="{left:.1f}" y1="2" x2="{left:.1f}" y2="{y - gap + 4:.1f}" stroke="#9aa3b2"/>'
    )
    return _svg(left + span + room, y - gap + 10, body, label)


def _overlap_section(result: OverlapResult, t: Messages = ENGLISH) -> str:
    union = sum(c for _, c in result.regions if c is not None)
    release = result.release
    suppressed = [
        (region_name(list(m)), release.label("regions/" + "+".join(m)))
        for m, c in result.regions
        if c is None
    ]
    cards = [
        (t("card_parties"), str(len(result.parties))),
        (
            t("all_parties"),
            t.shown(release, result.all_parties, "all_parties", "all_parties"),
        ),
        (
            (t("union"), t.shown(release, result.union, "union", "union"))
            if result.union is not None
            else (t("union_known") if suppressed else t("union"), f"{union:,}")
        ),
    ]
    region_rows = [
        [
            region_name(list(m)),
            *("●" if p in m else "" for p in result.parties),
            t.shown(release, c, "regions/" + "+".join(m), "regions"),
        ]
        for m, c in result.regions
    ]
    size_rows = [
        [p, t.shown(release, result.set_sizes.get(p), f"set_sizes/{p}", "set_sizes")]
        for p in result.parties
    ]
    loads = {load.party: load for load in result.loads}
    if loads:
        size_rows = [
            [
                p,
                t.shown(release, result.set_sizes.get(p), f"set_sizes/{p}", "set_sizes"),
                f"{loads[p].rows_read:,}" if p in loads else "-",
                f"{loads[p].duplicates:,}" if p in loads else "-",
                f"{sum(loads[p].invalid.values()):,}" if p in loads else "-",
            ]
            for p in result.parties
        ]
    size_header = [t("col_party"), t("col_members")] + (
        [t("col_rows_read"), t("col_duplicates"), t("col_invalid_rows")] if loads else []
    )
    pair_rows = [
        [
            a,
            *(
                t.shown(release, result.set_sizes.get(a), f"set_sizes/{a}", "set_sizes")
                if a == b
                else t.shown(release, result.pair(a, b), _pair_cell(result, a, b), "pairwise")
                for b in result.parties
            ),
        ]
        for a in result.parties
    ]
    parts = [
        f'<section id="overlap"><h2>{_e(t("overlap_heading", id_type=result.id_type))}</h2>',
        '<p class="note">'
        + _e(t("overlap_note", query_id=result.query_id, parties=", ".join(result.parties)))
        + "</p>",
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{_e(v)}</div>'
            f'<div class="label">{_e(k)}</div></div>'
            for k, v in cards
        )
        + "</div>",
        _table(size_header, size_rows, t),
        f"<h3>{_e(t('regions_heading'))}</h3>",
        f'<p class="note">{_e(t("regions_note"))}</p>',
        f'<div class="chart">{upset_chart(result, t)}</div>',
    ]
    if suppressed:
        parts.append(
            '<ul class="warnings">'
            + "".join(
                "<li>"
                + _e(
                    t(
                        "region_protective" if label == SUPPRESSED else "region_below_k",
                        region=s,
                        label=t("suppressed") if label == SUPPRESSED else label,
                    )
                )
                + "</li>"
                for s, label in suppressed
            )
            + "</ul>"
        )
    parts += [
        _table([t("col_region"), *result.parties, t("col_members")], region_rows, t),
        f"<h3>{_e(t('pairwise_heading'))}</h3>",
        f'<p class="note">{_e(t("pairwise_note"))}</p>',
        f'<div class="pair"><div class="chart">{heatmap_chart(result, t)}</div>',
        _table(["", *result.parties], pair_rows, t) + "</div>",
        "</section>",
    ]
    return "".join(parts)


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
        f"<h3>{_e(name)}</h3>"
        f'<p class="note">{_e(t("categorical_note"))}</p>'
        + _legend([p.owner for p in holders], colours)
        + f'<div class="pair"><div class="chart">{_bars(groups, colours, name)}</div>'
        + _table(header, rows, t)
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
        f"<h3>{_e(name)}</h3>"
        f'<p class="note">{_e(t("numeric_note"))}</p>'
        + f'<div class="pair"><div class="chart">{_bars(groups, colours, name)}</div>'
        + _table(header, rows, t)
        + "</div>"
    )


def _profile_section(result: ProfileResult, t: Messages = ENGLISH) -> str:
    owners = [p.owner for p in result.profiles]
    colours = _colours(owners)
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
        f'<section id="profile"><h2>{_e(t("profile_heading"))}</h2>',
        '<p class="note">'
        + _e(
            t(
                note,
                query_id=result.query_id,
                querier=result.querier,
                owners=", ".join(result.owners),
            )
        )
        + "</p>",
        _legend(owners, colours),
        f'<div class="chart">{_bars(overlap_groups, colours, t("shared_audience"))}</div>',
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
                f"<li>{_e(t('not_combined', attribute=t.attribute(a), why=why))}</li>"
                for a, why in result.not_combined.items()
            )
            + "</ul>"
        )

    parts.append("</section>")
    return "".join(parts)


def _contribution_section(contribution: Contribution, t: Messages = ENGLISH) -> str:
    UNKNOWN = t("not_computable")  # the word of a cell with no number, in this language
    measures = {
        t("reach"): "#9ab6d6",
        t("shapley_value"): "#2b6cb0",
        t("unique_reach"): "#f28e2b",
    }
    groups = []
    for s in contribution.shares:
        series: list[tuple[str, float | None, str]] = [
            (
                t("reach"),
                None if s.reach is None else float(s.reach),
                fmt_count(s.reach) if s.reach is not None else UNKNOWN,
            ),
            (
                t("shapley_value"),
                None if s.shapley is None else float(s.shapley),
                UNKNOWN if s.shapley is None else f"{float(s.shapley):,.1f}",
            ),
            (
                t("unique_reach"),
                None if s.unique_reach is None else float(s.unique_reach),
                UNKNOWN if s.unique_reach is None else f"{s.unique_reach:,}",
            ),
        ]
        groups.append((s.retailer, series))
    total = contribution.total_reach
    rows = []
    for s in contribution.shares:
        rows.append(
            [
                s.retailer,
                UNKNOWN if s.reach is None else f"{s.reach:,}",
                UNKNOWN if s.unique_reach is None else f"{s.unique_reach:,}",
                UNKNOWN if s.incremental_reach is None else f"{s.incremental_reach:,}",
                str(contribution.order.index(s.retailer) + 1),
                UNKNOWN if s.shapley is None else f"{float(s.shapley):,.1f}",
                UNKNOWN if s.shapley is None else fmt_share(float(s.shapley), total) or "-",
            ]
        )
    cards = [
        (t("brand_customers", brand=contribution.brand), _count(contribution.brand_customers, t)),
        (t("reached_by_any"), UNKNOWN if total is None else f"{total:,}"),
        (
            t("share_of_brand"),
            fmt_share(total, contribution.brand_customers) or "-",
        ),
    ]
    parts = [
        f'<section id="contribution"><h2>{_e(t("contribution_heading"))}</h2>',
        f'<p class="note">{_e(t("contribution_note", brand=contribution.brand))}</p>',
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{_e(v)}</div>'
            f'<div class="label">{_e(k)}</div></div>'
            for k, v in cards
        )
        + "</div>",
        _legend(list(measures), measures),
        f'<div class="chart">{_bars(groups, measures, t("chart_contribution"))}</div>',
        _table(
            [
                t("col_retailer"),
                t("reach"),
                t("unique_reach"),
                t("incremental_reach"),
                t("col_order"),
                t("shapley_value"),
                t("shapley_share"),
            ],
            rows,
            t,
        ),
    ]
    if contribution.not_computed:
        parts.append(
            '<ul class="warnings">'
            + "".join(f"<li>{_e(line)}</li>" for line in contribution.not_computed)
            + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)


def _value(value: Any, depth: int = 0, t: Messages = ENGLISH) -> str:
    if isinstance(value, Mapping) and depth < 4:
        return (
            '<dl class="provenance">'
            + "".join(
                f"<dt>{_e(k)}</dt><dd>{_value(v, depth + 1, t)}</dd>" for k, v in value.items()
            )
            + "</dl>"
        )
    if isinstance(value, list | tuple | set | frozenset) and depth < 4:
        items = list(value)
        if all(isinstance(i, str | int | float | bool) or i is None for i in items):
            return _e(", ".join(_word(i, t) for i in items)) or _e(t("none"))
        return "<ol>" + "".join(f"<li>{_value(i, depth + 1, t)}</li>" for i in items) + "</ol>"
    if isinstance(value, bool):
        return _e(t("yes") if value else t("no"))
    if isinstance(value, int):
        return _e(f"{value:,}")
    return _e("-" if value is None else value)


def _word(value: str | int | float | bool | None, t: Messages = ENGLISH) -> str:
    """A scalar in words: yes/no for booleans, `-` for nothing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    return str(value)


def _release_facts(release: ReleaseInfo, t: Messages = ENGLISH) -> dict[str, Any]:
    """The release rules applied, in words a data officer reads."""
    return {
        t("fact_k"): release.k or t("fact_no_k"),
        t("fact_hidden"): release.suppressed,
        t("fact_protective"): ", ".join(release.protective) or t("word_none"),
        t("fact_noise"): t("fact_laplace", epsilon=release.epsilon)
        if release.epsilon
        else t("word_none"),
        t("fact_error_bars"): {
            bar.table: t(
                "fact_bar",
                half=bar.half_width,
                mechanism=bar.mechanism,
                epsilon=bar.epsilon,
                sensitivity=bar.sensitivity,
                scale=bar.scale,
                cells=bar.noised_cells,
            )
            for bar in release.error_bars
        }
        or t("fact_exact"),
        t("fact_from_cache"): t("fact_cache_yes") if release.from_cache else t("no"),
    }


def _pair_cell(result: OverlapResult, a: str, b: str) -> str:
    """A pair's cell name in the result's party order."""
    x, y = (a, b) if result.parties.index(a) < result.parties.index(b) else (b, a)
    return f"pairwise/{x}+{y}"


def default_provenance(
    overlap: OverlapResult | None, profile: ProfileResult | None, t: Messages = ENGLISH
) -> dict[str, Any]:
    """What the results themselves say about where they come from."""
    facts: dict[str, Any] = {}
    if overlap is not None:
        facts[t("fact_overlap_query_id")] = overlap.query_id
        facts[t("fact_overlap_parties")] = list(overlap.parties)
        facts[t("fact_id_type")] = overlap.id_type
        facts[t("fact_overlap_seconds")] = f"{overlap.seconds:.2f}"
        facts[t("fact_overlap_release")] = _release_facts(overlap.release, t)
    if profile is not None:
        facts[t("fact_profile_query_id")] = profile.query_id
        facts[t("fact_querier")] = profile.querier
        facts[t("fact_owners")] = list(profile.owners)
        facts[t("fact_attributes")] = [t.attribute(a) for a in profile.attributes]
        facts[t("fact_profile_seconds")] = f"{profile.seconds:.2f}"
        facts[t("fact_profile_release")] = {
            p.owner: _release_facts(p.release, t) for p in profile.profiles
        }
        if profile.from_cache:
            facts[t("fact_profile_answer")] = t("fact_from_cache_answer")
    facts[t("fact_written")] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return facts


def render_report(
    overlap: OverlapResult | None,
    profile: ProfileResult | None,
    contribution: Contribution | None = None,
    provenance: Mapping[str, Any] | None = None,
    title: str = "",
    joint: JointAnalysis | None = None,
    lang: str = "en",
) -> str:
    """The report as one HTML document in `lang` (`en`, `zh-CN`), with the owners' display
    labels of that language for attributes and bins: no script, and nothing it refers to
    outside itself; with `joint`, the joint-operations section (prospects, complementarity
    heatmap) follows the overlap."""
    t = Messages(check_language(lang))
    if profile is not None:
        t = t.with_labels(profile.labels())
    title = title or t("title")
    facts = default_provenance(overlap, profile, t) | dict(provenance or {})
    subtitle = []
    if overlap is not None:
        subtitle.append(t("subtitle_overlap", n=len(overlap.parties), id_type=overlap.id_type))
    if profile is not None:
        subtitle.append(t("subtitle_profile", querier=profile.querier))
    sections = []
    if overlap is not None:
        sections.append(_overlap_section(overlap, t))
    if joint is not None:
        sections.append(joint_operations_section(joint, t))
    if contribution is not None:
        sections.append(_contribution_section(contribution, t))
    if profile is not None:
        sections.append(_profile_section(profile, t))
    sections.append(
        f'<section id="provenance"><h2>{_e(t("provenance_heading"))}</h2>'
        f'<p class="note">{_e(t("provenance_note"))}</p>' + _value(facts, 0, t) + "</section>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_e(t.lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e('; '.join(subtitle))}</p></header>"
        "<main>" + "".join(sections) + "</main>"
        f"<footer>{_e(t('footer'))}</footer></body></html>\n"
    )


def write_report(
    path: Path | str,
    overlap: OverlapResult | None,
    profile: ProfileResult | None,
    contribution: Contribution | None = None,
    provenance: Mapping[str, Any] | None = None,
    joint: JointAnalysis | None = None,
    lang: str = "en",
) -> Path:
    """Write the self-contained HTML report in `lang` to `path` (UTF-8) and return the path."""
    if overlap is None and profile is None:
        raise ValueError("a report needs an overlap or a profile result")
    target = Path(path)
    page = render_report(overlap, profile, contribution, provenance, joint=joint, lang=lang)
    target.write_text(page, encoding="utf-8")
    return target


def write_outputs(
    overlap: OverlapResult | None,
    profile: ProfileResult | None,
    report: Path | None = None,
    csv: Path | None = None,
    brand: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    joint: JointAnalysis | None = None,
    lang: str = "en",
) -> list[Path]:
    """What `--report` and `--csv` ask for: the HTML report (contribution shares of `brand`,
    default the overlap's first party, to the others) and, as CSV, the overlap's regions or,
    for a profile alone, every released number (`profile_table`)."""
    written: list[Path] = []
    if csv is not None and overlap is not None:
        regions_frame(overlap).to_csv(csv)
        written.append(csv)
    elif csv is not None and profile is not None:
        profile_table(profile).to_csv(csv, index=False)
        written.append(csv)
    if report is not None:
        shares = None
        if overlap is not None:
            shares = insights.contribution(
                overlap, brand if brand is not None else overlap.parties[0]
            )
        written.append(write_report(report, overlap, profile, shares, provenance, joint, lang))
    return written


def joint_operations_section(analysis: JointAnalysis, t: Messages = ENGLISH) -> str:
    """New customers per partner (ranked, with error bars) and the complementarity heatmap
    (新客与资源互补度热力图): a table whose cell shade is the share of B's members new to A."""
    pools = [
        [
            str(p.rank or "-"),
            p.party,
            count_text(p.prospects, t),
            "-" if p.share is None else f"{100 * p.share:.1f}%",
            p.prospects.why,
        ]
        for p in analysis.pools
    ]
    parties = list(analysis.result.parties)
    shares = {(c.a, c.b): c for c in analysis.pairs}
    head = "".join(f"<th>{_e(b)}</th>" for b in parties)
    rows = []
    for a in parties:
        cells = []
        for b in parties:
            pair = shares.get((a, b))
            if pair is None:
                cells.append('<td class="diagonal">-</td>')
                continue
            value = pair.adds_share.value
            if value is None:
                cells.append(
                    f'<td class="suppressed" title="{_e(pair.adds.why)}">'
                    f"{_e(t('not_computable'))}</td>"
                )
                continue
            ink = "#ffffff" if value > 0.5 else "#1f2430"
            hover = t(
                "heatmap_cell",
                a=a,
                b=b,
                adds=count_text(pair.adds, t),
                jaccard=ratio_text(pair.jaccard, t),
            )
            cells.append(
                f'<td style="background:{_blend(value)};color:{ink}" '
                f'title="{_e(hover)}">{_e(ratio_text(pair.adds_share, t))}</td>'
            )
        rows.append(f"<tr><th>{_e(a)}</th>{''.join(cells)}</tr>")
    steps = [
        [
            str(s.step),
            s.partner,
            count_text(s.gain, t),
            count_text(s.reach, t),
            t("yes") if s.decisive else t("within_noise"),
        ]
        for s in analysis.coverage.steps
    ]
    ranking_header = [
        t("col_rank"),
        t("col_partner"),
        t("col_new_customers"),
        t("col_share_of_base"),
        t("col_why_unknown"),
    ]
    mix_header = [
        t("col_step"),
        t("col_partner"),
        t("col_adds"),
        t("col_reach"),
        t("col_clear_choice"),
    ]
    parts = [
        f'<section id="joint-operations"><h2>{_e(t("joint_heading"))}</h2>',
        f'<p class="note">{_e(t("joint_note", querier=analysis.querier))}</p>',
        f"<h3>{_e(t('ranking_heading'))}</h3>",
        _table(ranking_header, pools, t),
        f"<h3>{_e(t('heatmap_heading'))}</h3>",
        f'<table class="heatmap"><thead><tr><th>A \\ B</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>",
        f"<h3>{_e(t('mix_heading'))}</h3>",
        _table(mix_header, steps, t),
    ]
    if analysis.coverage.stopped:
        parts.append(f'<ul class="warnings"><li>{_e(analysis.coverage.stopped)}</li></ul>')
    parts.append("</section>")
    return "".join(parts)


def write_joint_report(
    path: Path | str,
    analysis: JointAnalysis,
    provenance: Mapping[str, Any] | None = None,
    lang: str = "en",
) -> Path:
    """The overlap report with the joint-operations section after the overlap."""
    return write_report(path, analysis.result, None, None, provenance, analysis, lang)
