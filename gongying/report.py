"""A self-contained HTML report of query results: inline CSS and SVG charts, nothing fetched."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client import insights
from client.frames import profile_table, region_name, regions_frame
from client.insights import Contribution
from client.prospects import JointAnalysis
from gongying.messages import ENGLISH, Messages, check_language
from gongying.report_charts import heatmap_chart, upset_chart
from gongying.report_contribution import contribution_section
from gongying.report_html import SUPPRESSED, cards, esc, table
from gongying.report_joint import joint_operations_section
from gongying.report_profile import profile_section
from model.results import OverlapResult, ProfileResult, ReleaseInfo

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


def _overlap_section(result: OverlapResult, t: Messages = ENGLISH) -> str:
    union = sum(c for _, c in result.regions if c is not None)
    release = result.release
    suppressed = [
        (region_name(list(m)), release.label("regions/" + "+".join(m)))
        for m, c in result.regions
        if c is None
    ]
    headline = [
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
                else t.shown(release, result.pair(a, b), result.pair_cell(a, b), "pairwise")
                for b in result.parties
            ),
        ]
        for a in result.parties
    ]
    parts = [
        f'<section id="overlap"><h2>{esc(t("overlap_heading", id_type=result.id_type))}</h2>',
        '<p class="note">'
        + esc(t("overlap_note", query_id=result.query_id, parties=", ".join(result.parties)))
        + "</p>",
        cards(headline),
        table(size_header, size_rows, t),
        f"<h3>{esc(t('regions_heading'))}</h3>",
        f'<p class="note">{esc(t("regions_note"))}</p>',
        f'<div class="chart">{upset_chart(result, t)}</div>',
    ]
    if suppressed:
        parts.append(
            '<ul class="warnings">'
            + "".join(
                "<li>"
                + esc(
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
        table([t("col_region"), *result.parties, t("col_members")], region_rows, t),
        f"<h3>{esc(t('pairwise_heading'))}</h3>",
        f'<p class="note">{esc(t("pairwise_note"))}</p>',
        f'<div class="pair"><div class="chart">{heatmap_chart(result, t)}</div>',
        table(["", *result.parties], pair_rows, t) + "</div>",
        "</section>",
    ]
    return "".join(parts)


def _value(value: Any, depth: int = 0, t: Messages = ENGLISH) -> str:
    if isinstance(value, Mapping) and depth < 4:
        return (
            '<dl class="provenance">'
            + "".join(
                f"<dt>{esc(k)}</dt><dd>{_value(v, depth + 1, t)}</dd>" for k, v in value.items()
            )
            + "</dl>"
        )
    if isinstance(value, list | tuple | set | frozenset) and depth < 4:
        items = list(value)
        if all(isinstance(i, str | int | float | bool) or i is None for i in items):
            return esc(", ".join(_word(i, t) for i in items)) or esc(t("none"))
        return "<ol>" + "".join(f"<li>{_value(i, depth + 1, t)}</li>" for i in items) + "</ol>"
    if isinstance(value, bool):
        return esc(t("yes") if value else t("no"))
    if isinstance(value, int):
        return esc(f"{value:,}")
    return esc("-" if value is None else value)


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
        sections.append(contribution_section(contribution, t))
    if profile is not None:
        sections.append(profile_section(profile, t))
    sections.append(
        f'<section id="provenance"><h2>{esc(t("provenance_heading"))}</h2>'
        f'<p class="note">{esc(t("provenance_note"))}</p>' + _value(facts, 0, t) + "</section>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(t.lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc('; '.join(subtitle))}</p></header>"
        "<main>" + "".join(sections) + "</main>"
        f"<footer>{esc(t('footer'))}</footer></body></html>\n"
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


def write_joint_report(
    path: Path | str,
    analysis: JointAnalysis,
    provenance: Mapping[str, Any] | None = None,
    lang: str = "en",
) -> Path:
    """The overlap report with the joint-operations section after the overlap."""
    return write_report(path, analysis.result, None, None, provenance, analysis, lang)
