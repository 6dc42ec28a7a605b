"""The report's SVG charts: the UpSet plot of regions, the pairwise heatmap and bar charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from client.frames import region_name
from gongying.messages import ENGLISH, Messages
from gongying.report_html import (
    blend,
    count_cell,
    esc,
    fmt_share,
    svg,
    svg_rect,
    svg_text,
    text_width,
)
from model.results import OverlapResult


def upset_chart(result: OverlapResult, t: Messages = ENGLISH) -> str:
    """Exclusive regions as an UpSet chart: a bar per region over its membership dot matrix."""
    parties = list(result.parties)
    regions = sorted(result.regions, key=lambda r: (r[1] is None, -(r[1] or 0), len(r[0])))
    labels = [f"{p} ({count_cell(result.set_sizes.get(p, 0), t)})" for p in parties]
    left = max(text_width(t) for t in labels) + 24
    widest = max((len(f"{c:,}") for _, c in regions if c is not None), default=6)
    column = max(34.0, text_width("0" * widest, 11) + 10)
    top, bars, row = 22.0, 190.0, 24.0
    width = left + column * len(regions) + 12
    height = top + bars + 12 + row * len(parties) + 8
    peak = max((c or 0 for _, c in regions), default=0) or 1
    body: list[str] = []
    matrix_top = top + bars + 12
    for i, label in enumerate(labels):
        y = matrix_top + i * row
        if i % 2 == 0:
            body.append(svg_rect(left - 6, y, column * len(regions) + 6, row, "#f1f3f8"))
        body.append(svg_text(left - 12, y + row / 2 + 4, label, anchor="end"))
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
                svg_rect(
                    x + 6,
                    top + bars - 40,
                    column - 12,
                    40,
                    "none",
                    ' stroke="#a0522d" stroke-dasharray="4 3"',
                )
            )
            body.append(
                svg_text(
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
                svg_rect(x + 6, top + bars - h, column - 12, h, "#4e79a7").replace(
                    "/>", f"><title>{esc(name)}: {count:,}</title></rect>"
                )
            )
            body.append(
                svg_text(centre, top + bars - h - 5, f"{count:,}", anchor="middle", size=11)
            )
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
    return svg(width, height, body, t("chart_upset"))


def heatmap_chart(result: OverlapResult, t: Messages = ENGLISH) -> str:
    """The pairwise overlap matrix; a cell's shade is the share of the row party's members
    that the column party also holds."""
    parties = list(result.parties)
    left = max(text_width(p) for p in parties) + 20
    cell_w = max(
        96.0,
        max(text_width(p) for p in parties) + 16,
        max(text_width(t("chart_share_of", share="100.0%", party=p), 10) for p in parties) + 14,
    )
    cell_h = 46.0
    top = 28.0
    body: list[str] = []
    for j, b in enumerate(parties):
        body.append(svg_text(left + j * cell_w + cell_w / 2, top - 10, b, anchor="middle"))
    for i, a in enumerate(parties):
        y = top + i * cell_h
        body.append(svg_text(left - 10, y + cell_h / 2 + 4, a, anchor="end"))
        size = result.set_sizes.get(a, 0)
        for j, b in enumerate(parties):
            x = left + j * cell_w
            if a == b:
                body.append(svg_rect(x + 1, y + 1, cell_w - 2, cell_h - 2, "#e3e7ef"))
                body.append(
                    svg_text(
                        x + cell_w / 2, y + 20, count_cell(size, t), anchor="middle", weight="bold"
                    )
                )
                body.append(
                    svg_text(
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
                svg_rect(x + 1, y + 1, cell_w - 2, cell_h - 2, blend(fraction)).replace(
                    "/>",
                    f"><title>{esc(a)} ∩ {esc(b)}: "
                    f"{esc(t.shown(result.release, shown, result.pair_cell(a, b), 'pairwise'))}"
                    "</title></rect>",
                )
            )
            body.append(
                svg_text(x + cell_w / 2, y + 20, count_cell(shown, t), anchor="middle", fill=ink)
            )
            body.append(
                svg_text(
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
    return svg(width, height, body, t("chart_heatmap"))


def bars(
    groups: Sequence[tuple[str, Sequence[tuple[str, float | None, str]]]],
    colours: Mapping[str, str],
    label: str,
) -> str:
    """Horizontal grouped bars: per group, one bar per (series, value, text)."""
    names = [g for g, _ in groups]
    left = max((text_width(n) for n in names), default=40) + 18
    texts = [t for _, series in groups for _, _, t in series]
    room = max((text_width(t, 11) for t in texts), default=40) + 14
    span = 520.0
    peak = max((v or 0 for _, s in groups for _, v, _ in s), default=0) or 1
    bar, gap = 14.0, 12.0
    body: list[str] = []
    y = 6.0
    for name, series in groups:
        block = bar * len(series)
        body.append(svg_text(left - 10, y + block / 2 + 4, name, anchor="end"))
        for key, value, text in series:
            w = span * (value or 0) / peak
            if value is None:
                body.append(
                    svg_rect(
                        left, y + 1, 40, bar - 2, "none", ' stroke="#a0522d" stroke-dasharray="3 2"'
                    )
                )
                body.append(svg_text(left + 46, y + bar - 3, text, size=11, fill="#a0522d"))
            else:
                body.append(
                    svg_rect(left, y + 1, w, bar - 2, colours[key]).replace(
                        "/>", f"><title>{esc(name)}, {esc(key)}: {esc(text)}</title></rect>"
                    )
                )
                body.append(svg_text(left + w + 5, y + bar - 3, text, size=11))
            y += bar
        y += gap
    body.append(
        f'<line x1="{left:.1f}" y1="2" x2="{left:.1f}" y2="{y - gap + 4:.1f}" stroke="#9aa3b2"/>'
    )
    return svg(left + span + room, y - gap + 10, body, label)
