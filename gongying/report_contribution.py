"""The report's contribution section: each retailer's reach, unique reach and Shapley share."""

from __future__ import annotations

from client.insights import Contribution
from gongying.messages import ENGLISH, Messages
from gongying.report_charts import bars
from gongying.report_html import count_cell, esc, fmt_count, fmt_share, legend, table

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


def contribution_section(contribution: Contribution, t: Messages = ENGLISH) -> str:
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
        (
            t("brand_customers", brand=contribution.brand),
            count_cell(contribution.brand_customers, t),
        ),
        (t("reached_by_any"), UNKNOWN if total is None else f"{total:,}"),
        (
            t("share_of_brand"),
            fmt_share(total, contribution.brand_customers) or "-",
        ),
    ]
    parts = [
        f'<section id="contribution"><h2>{esc(t("contribution_heading"))}</h2>',
        f'<p class="note">{esc(t("contribution_note", brand=contribution.brand))}</p>',
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{esc(v)}</div>'
            f'<div class="label">{esc(k)}</div></div>'
            for k, v in cards
        )
        + "</div>",
        legend(list(measures), measures),
        f'<div class="chart">{bars(groups, measures, t("chart_contribution"))}</div>',
        table(
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
            + "".join(f"<li>{esc(line)}</li>" for line in contribution.not_computed)
            + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)
