"""The report's joint-operations section: prospect ranking, complementarity heatmap, mix."""

from __future__ import annotations

from client.prospects import JointAnalysis
from gongying.joint_render import count_text, ratio_text
from gongying.messages import ENGLISH, Messages
from gongying.report_html import blend, esc, table


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
    head = "".join(f"<th>{esc(b)}</th>" for b in parties)
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
                    f'<td class="suppressed" title="{esc(pair.adds.why)}">'
                    f"{esc(t('not_computable'))}</td>"
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
                f'<td style="background:{blend(value)};color:{ink}" '
                f'title="{esc(hover)}">{esc(ratio_text(pair.adds_share, t))}</td>'
            )
        rows.append(f"<tr><th>{esc(a)}</th>{''.join(cells)}</tr>")
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
        f'<section id="joint-operations"><h2>{esc(t("joint_heading"))}</h2>',
        f'<p class="note">{esc(t("joint_note", querier=analysis.querier))}</p>',
        f"<h3>{esc(t('ranking_heading'))}</h3>",
        table(ranking_header, pools, t),
        f"<h3>{esc(t('heatmap_heading'))}</h3>",
        f'<table class="heatmap"><thead><tr><th>A \\ B</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>",
        f"<h3>{esc(t('mix_heading'))}</h3>",
        table(mix_header, steps, t),
    ]
    if analysis.coverage.stopped:
        parts.append(f'<ul class="warnings"><li>{esc(analysis.coverage.stopped)}</li></ul>')
    parts.append("</section>")
    return "".join(parts)
