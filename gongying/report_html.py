"""HTML and SVG building blocks of the report: escaping, counts, tables, shapes, colours."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from gongying.messages import ENGLISH, Messages

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


def esc(value: object) -> str:
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


def text_width(text: str, size: float = 12) -> float:
    return 0.62 * size * len(text)


def svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg role="img" aria-label="{esc(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}">' + "".join(body) + "</svg>"
    )


def svg_text(
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
        f'fill="{fill}" font-weight="{weight}"{extra}>{esc(text)}</text>'
    )


def svg_rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}"{extra}/>'
    )


def colours_for(names: Sequence[str]) -> dict[str, str]:
    colours: dict[str, str] = {}
    for i, name in enumerate(n for n in names if n != "combined"):
        colours[name] = PALETTE[i % len(PALETTE)]
    colours["combined"] = COMBINED_COLOUR
    return colours


def legend(names: Sequence[str], colours: Mapping[str, str]) -> str:
    items = "".join(f'<span><i style="background:{colours[n]}"></i>{esc(n)}</span>' for n in names)
    return f'<div class="legend">{items}</div>'


def count_cell(value: int | None, t: Messages) -> str:
    """A count in `t`'s language: `12,345`, or `suppressed` for an unknown count."""
    return t("suppressed") if value is None else f"{value:,}"


def cards(items: Sequence[tuple[str, str]]) -> str:
    """Headline figures as cards: each a value over its label."""
    body = "".join(
        f'<div class="card"><div class="value">{esc(v)}</div>'
        f'<div class="label">{esc(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="cards">{body}</div>'


def table(header: Sequence[str], rows: Sequence[Sequence[str]], t: Messages = ENGLISH) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    hidden = t.hidden_words()
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="suppressed">{esc(c)}</td>'
            if c in hidden or c.startswith("<")
            else f"<td>{esc(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def blend(fraction: float) -> str:
    low, high = (0xF4, 0xF7, 0xFB), (0x1F, 0x5A, 0x9E)
    f = min(max(fraction, 0.0), 1.0)
    return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(low, high, strict=True))
