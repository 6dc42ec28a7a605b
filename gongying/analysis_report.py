"""Report sections for campaign lift and contribution scores, in English or Chinese (TEXT)."""
# ruff: noqa: RUF001  (the zh-CN strings use full-width punctuation, as Chinese text does)

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from client.contribution_scores import ContributionScores
from client.lift import CampaignLift
from gongying.report import CSS

LANGUAGES = ("en", "zh-CN")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "lift_title": "Campaign lift",
        "lift_note": (
            "Exposed against holdout members of {querier}'s list (column {column}), each group "
            "profiled by its own private query; the outcome per matched member, with 95% "
            "intervals holding both sampling error and the owners' privacy noise."
        ),
        "owner": "Owner",
        "outcome": "Outcome",
        "members": "Members matched",
        "per_member": "Per member",
        "lift": "Lift",
        "relative": "Relative lift",
        "significant": "Significant",
        "yes": "yes",
        "no": "no",
        "unknown": "unknown",
        "queries": "Queries",
        "contribution_title": "Contribution scores",
        "contribution_note": (
            "Each partner's share of every weighted measure, private (from the queries named) "
            "and declared (from {weights}), combined by the weights; the traffic weight is "
            "the score normalised over the partners."
        ),
        "partner": "Partner",
        "score": "Score",
        "traffic": "Suggested traffic weight",
        "measure": "Measure",
        "value": "Value",
        "share": "Share",
        "weight": "Weight",
        "source": "Source",
        "dropped": "Left out",
        "lang_attr": "en",
        "page_title": "Gongying joint operations",
    },
    "zh-CN": {
        "lift_title": "活动增量（Lift）",
        "lift_note": (
            "{querier} 名单中曝光组与对照组（列 {column}）各由一次隐私查询分别画像；"
            "每位匹配会员的结果指标，95% 区间同时包含抽样误差与数据方的隐私噪声。"
        ),
        "owner": "数据方",
        "outcome": "结果指标",
        "members": "匹配会员数",
        "per_member": "人均",
        "lift": "增量",
        "relative": "相对增量",
        "significant": "显著",
        "yes": "是",
        "no": "否",
        "unknown": "未知",
        "queries": "查询",
        "contribution_title": "资源贡献度",
        "contribution_note": (
            "各伙伴在每项加权指标中的占比：隐私指标来自所列查询，申报指标来自 {weights}；"
            "按权重合成得分，建议流量权重为得分在伙伴间的归一化。"
        ),
        "partner": "伙伴",
        "score": "得分",
        "traffic": "建议流量权重",
        "measure": "指标",
        "value": "数值",
        "share": "占比",
        "weight": "权重",
        "source": "来源",
        "dropped": "未计入",
        "lang_attr": "zh-CN",
        "page_title": "共赢联营分析",
    },
}


def text(lang: str) -> dict[str, str]:
    """The strings of `lang`; ValueError naming the languages there are."""
    if lang not in TEXT:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    return TEXT[lang]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _digits(value: float) -> int:
    """Decimals worth showing: none for whole numbers and large values, else 2 or 3."""
    if value.is_integer() or abs(value) >= 1000:
        return 0
    return 2 if abs(value) >= 10 else 3


def _num(value: object, half: object = None, percent: bool = False) -> str:
    """A number (or a percentage) with `± half` when it carries an error bar; blank if NA."""
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return ""
    number = float(value) * (100 if percent else 1)  # type: ignore[arg-type]
    spread = None if half is None or pd.isna(half) else float(half) * (100 if percent else 1)  # type: ignore[call-overload, arg-type]
    digits = 1 if percent else _digits(number)
    unit = "%" if percent else ""
    shown = f"{number:+,.{digits}f}{unit}" if percent else f"{number:,.{digits}f}"
    if spread:
        places = digits if digits or percent else _digits(spread)
        shown += f"\u00a0±\u00a0{spread:,.{places}f}{unit}"  # kept on one line
    return shown


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def lift_section(lift: CampaignLift, lang: str = "en") -> str:
    """The campaign-lift section: per owner and outcome, both groups, lift and its interval."""
    t = text(lang)
    frame = lift.to_frame()
    rows = []
    for _, r in frame.iterrows():
        known = not pd.isna(r["lift"])
        rows.append(
            [
                str(r["owner"]),
                str(r["outcome"]),
                f"{_num(r['exposed_members'], r['exposed_members_half_width'])} / "
                f"{_num(r['holdout_members'], r['holdout_members_half_width'])}",
                _num(r["exposed"], r["exposed_half_width"]),
                _num(r["holdout"], r["holdout_half_width"]),
                _num(r["lift"], r["lift_high"] - r["lift"]) if known else t["unknown"],
                _num(r["relative_lift"], r["relative_high"] - r["relative_lift"], percent=True)
                if not pd.isna(r["relative_lift"])
                else str(r["why"]) or t["unknown"],
                (t["yes"] if r["significant"] else t["no"]) if known else str(r["why"]),
            ]
        )
    header = [
        t["owner"],
        t["outcome"],
        f"{t['members']} ({lift.exposed_group} / {lift.holdout_group})",
        f"{t['per_member']}: {lift.exposed_group}",
        f"{t['per_member']}: {lift.holdout_group}",
        t["lift"],
        t["relative"],
        t["significant"],
    ]
    note = t["lift_note"].format(querier=lift.exposed.querier, column=lift.column)
    queries = f"{t['queries']}: {lift.exposed_group} {lift.exposed.query_id}; "
    queries += f"{lift.holdout_group} {lift.holdout.query_id}"
    return (
        f'<section id="lift"><h2>{_e(t["lift_title"])}</h2><p class="note">{_e(note)}</p>'
        + _table(header, rows)
        + f'<p class="note">{_e(queries)}</p></section>'
    )


def contribution_section(scores: ContributionScores, lang: str = "en") -> str:
    """The contribution-scores section: score and traffic weight per partner, then every
    measure's value, share and source (the query id, or the weights file)."""
    t = text(lang)
    wide = scores.to_frame()
    top = [[str(p), _num(r["score"]), _num(r["traffic_weight"])] for p, r in wide.iterrows()]
    long = scores.measures_frame()
    detail = [
        [
            str(r["partner"]),
            str(r["measure"]),
            _num(r["value"], r["half_width"]),
            _num(r["share"]),
            _num(r["weight"]),
            str(r["source"]),
        ]
        for _, r in long.iterrows()
    ]
    note = t["contribution_note"].format(weights=scores.weights_file)
    dropped = "".join(f"<li>{_e(d)}</li>" for d in scores.dropped)
    return (
        f'<section id="contribution-scores"><h2>{_e(t["contribution_title"])}</h2>'
        f'<p class="note">{_e(note)}</p>'
        + _table([t["partner"], t["score"], t["traffic"]], top)
        + _table(
            [t["partner"], t["measure"], t["value"], t["share"], t["weight"], t["source"]], detail
        )
        + (f'<h3>{_e(t["dropped"])}</h3><ul class="warnings">{dropped}</ul>' if dropped else "")
        + "</section>"
    )


def render_page(sections: Sequence[str], lang: str = "en", facts: Mapping[str, str] = {}) -> str:
    """One self-contained HTML page (no script, nothing fetched) holding `sections`."""
    t = text(lang)
    listed = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts.items())
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{t["lang_attr"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(t['page_title'])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(t['page_title'])}</h1></header><main>"
        + "".join(sections)
        + (f'<section><dl class="provenance">{listed}</dl></section>' if listed else "")
        + "</main></body></html>\n"
    )


def write_page(path: Path, sections: Sequence[str], lang: str = "en") -> Path:
    path.write_text(render_page(sections, lang), encoding="utf-8")
    return path
