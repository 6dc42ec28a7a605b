"""The report's contribution section: each retailer's reach, unique reach and Shapley share."""

from __future__ import annotations

from client.insights import Contribution
from gongying.messages import ENGLISH, Messages
from gongying.report_charts import bars
from gongying.report_html import cards, count_cell, esc, fmt_count, fmt_share, legend, table


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
    headline = [
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
        cards(headline),
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
