"""The dashboard's HTML: every number as text in tables, charts as Vega-Lite specs the vendored
vega-embed renders (served from /static; no inline script, nothing remote)."""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from typing import Any

from coordinator.dashboard_charts import (
    activity_chart,
    budget_chart,
    series_chart,
    settlement_chart,
    sparkline,
)
from coordinator.dashboard_data import Dimension, Snapshot
from coordinator.dashboard_text import text_for

STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:1.5rem;color:#222}
header{display:flex;justify-content:space-between;align-items:center}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .6rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}.chart{width:100%;max-width:760px}
.green{background:#c8e6c9}.amber{background:#ffe0b2}.red{background:#ffcdd2}.none{background:#eee}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:1rem}
"""
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "dashboard.js")


def count(value: float) -> str:
    return f"{round(value):,}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _table(head: list[str], rows: list[list[tuple[str, str]]], css: str = "") -> str:
    """A table; each cell is (text, class) with class "n" for numbers."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}">{escape(t)}</td>' for t, c in row) + "</tr>"
        for row in rows
    )
    return f'<table class="{css}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _chart(name: str) -> str:
    return f'<div class="chart" id="chart-{name}" data-spec="{name}"></div>'


def dimension_value(dimension: Dimension) -> str:
    if dimension.value is None:
        return ""
    if dimension.name == "new_customer_reach":
        return f"{dimension.value:.3f}"
    return percent(dimension.value)


def render_dashboard(snapshot: Snapshot, lang: str, user: str) -> str:
    """The signed-in page for `user` in `lang`."""
    t = text_for(lang)
    specs: dict[str, Any] = {}
    parts = [f"<h2>{escape(t['partners'])}</h2>"]
    parts.append(
        _table(
            [t["party"], t["address"], t["status"], t["latency"]],
            [
                [
                    (h.party, ""),
                    (h.address, ""),
                    (t["serving"] if h.serving else f"{t['down']}: {h.detail}", ""),
                    (f"{h.latency_ms:.0f}" if h.latency_ms is not None else "—", "n"),
                ]
                for h in snapshot.health
            ],
            "partners",
        )
    )
    parts.append(f"<h2>{escape(t['activity'].format(days=snapshot.window_days))}</h2>")
    parts.append(
        _table(
            [
                *(t[k] for k in ("party", "queries", "released", "refused", "failed")),
                *(t[k] for k in ("epsilon", "budget", "headroom")),
            ],
            [
                [
                    (a.party, ""),
                    (count(a.queries), "n"),
                    (count(a.released), "n"),
                    (count(a.refused), "n"),
                    (count(a.failed), "n"),
                    (f"{a.epsilon:.2f}", "n"),
                    (f"{a.budget:.2f}" if a.budget is not None else "—", "n"),
                    (percent(a.headroom), "n"),
                ]
                for a in snapshot.activity
            ],
            "activity",
        )
    )
    outcomes = {k: t[k] for k in ("released", "refused", "failed")}
    specs["queries"] = activity_chart(snapshot.activity, t["queries_chart"], outcomes)
    specs["budget"] = budget_chart(snapshot.activity, t["budget_chart"], t["epsilon"], t["budget"])
    parts.append(f'<div class="grid">{_chart("queries")}{_chart("budget")}</div>')
    parts.append(_integrity(snapshot, t))
    parts.append(_schedules(snapshot, t))
    parts.append(_trends(snapshot, t, specs))
    parts.append(f"<h2>{escape(t['settlement'])}</h2>")
    if snapshot.settlement:
        specs["settlement"] = settlement_chart(snapshot.settlement, t["settlement_chart"])
        parts.append(_chart("settlement"))
    else:
        parts.append(f'<p class="empty">{escape(t["no_settlement"])}</p>')
    parts.append(_scorecard(snapshot, t, specs))
    return _document(t, lang, "".join(parts), specs, user, snapshot)


def _integrity(snapshot: Snapshot, t: dict[str, str]) -> str:
    rows = [
        [
            (i.party, ""),
            (count(i.witnessed), "n"),
            (str(i.last_seq) if i.last_seq is not None else "—", "n"),
            (i.last_time.strftime("%Y-%m-%d %H:%M") if i.last_time else "—", ""),
            (t["yes"] if i.consistent else t["no"], "" if i.consistent else "red"),
            _signatures(i.valid, i.witnessed, t),
        ]
        for i in snapshot.integrity
    ]
    head = [t["party"], t["witnessed"], t["last_seq"], t["last_time"], t["consistent"]]
    head.append(t["signatures"])
    own = snapshot.own
    line = (
        t["own_log"].format(
            state=t["own_ok"] if own.ok else t["own_bad"].format(faults=own.faults),
            records=own.records,
            coverage=own.coverage,
            at=own.verified_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        if own is not None
        else t["no_log"]
    )
    css = "" if own is None or own.ok else ' class="red"'
    return (
        f"<h2>{escape(t['integrity'])}</h2>{_table(head, rows, 'integrity')}"
        f'<p id="own-log"{css}>{escape(line)}</p>'
    )


def _signatures(valid: int | None, witnessed: int, t: dict[str, str]) -> tuple[str, str]:
    """`valid/witnessed valid` (red when any fails), or `no key`."""
    if valid is None:
        return t["no_key"], ""
    return t["valid"].format(valid=valid, of=witnessed), "" if valid == witnessed else "red"


def _schedules(snapshot: Snapshot, t: dict[str, str]) -> str:
    names = sorted({run.schedule for run in snapshot.runs})
    rows = []
    for name in names:
        runs = [run for run in snapshot.runs if run.schedule == name]
        tally = Counter(run.outcome for run in runs)
        last = runs[-1]
        rows.append(
            [
                (name, ""),
                (count(len(runs)), "n"),
                (count(tally["released"]), "n"),
                (count(tally["refused"]), "n"),
                (count(tally["failed"]), "n"),
                (last.slot.strftime("%Y-%m-%d"), ""),
                (t[last.outcome], ""),
            ]
        )
    head = [t["schedule"], t["runs"], t["released"], t["refused"], t["failed"]]
    return f"<h2>{escape(t['schedules'])}</h2>" + _table(
        [*head, t["last_slot"], t["last_outcome"]], rows, "schedules"
    )


def _trends(snapshot: Snapshot, t: dict[str, str], specs: dict[str, Any]) -> str:
    trends = snapshot.trends
    if not trends.overlap and not trends.prospects:
        heading = escape(t["trends"].format(schedule="—", querier="—"))
        return f'<h2>{heading}</h2><p id="no-trends">{escape(t["no_trends"])}</p>'
    q = trends.querier
    specs["overlap"] = series_chart(
        trends.overlap, t["overlap_chart"].format(querier=q), t["members"], t["partner"]
    )
    specs["prospects"] = series_chart(
        trends.prospects, t["prospect_chart"].format(querier=q), t["members"], t["partner"]
    )
    last = max(p.slot for p in trends.overlap + trends.prospects)
    overlap = {p.series: p.value for p in trends.overlap if p.slot == last}
    prospects = {p.series: p.value for p in trends.prospects if p.slot == last}
    rows = [
        [
            (partner, ""),
            (count(overlap[partner]) if partner in overlap else "—", "n"),
            (count(prospects[partner]) if partner in prospects else "—", "n"),
        ]
        for partner in sorted(set(overlap) | set(prospects))
    ]
    title = t["trends"].format(schedule=trends.schedule, querier=q)
    return (
        f"<h2>{escape(title)}</h2>"
        f'<div class="grid">{_chart("overlap")}{_chart("prospects")}</div>'
        f"<p>{escape(t['latest'].format(slot=last.strftime('%Y-%m-%d')))}</p>"
        + _table([t["partner"], t["overlap"], t["prospects"]], rows, "latest")
    )


def _scorecard(snapshot: Snapshot, t: dict[str, str], specs: dict[str, Any]) -> str:
    rows = []
    for dimension in snapshot.scorecard:
        name = f"trend-{dimension.name}"
        if dimension.trend:
            specs[name] = sparkline(dimension.trend)
        value = dimension_value(dimension) or t["not_measured"]
        rows.append(
            f'<tr data-dimension="{dimension.name}"><td>{escape(t[dimension.name])}</td>'
            f'<td class="n">{escape(value)}</td>'
            f'<td class="{dimension.rating}">{escape(t[dimension.rating])}</td>'
            f"<td>{_chart(name) if dimension.trend else ''}</td></tr>"
        )
    head = "".join(f"<th>{escape(t[k])}</th>" for k in ("dimension", "value", "rating", "trend"))
    return (
        f'<h2>{escape(t["scorecard"])}</h2><table class="scorecard"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _document(
    t: dict[str, str], lang: str, body: str, specs: dict[str, Any], user: str, snap: Snapshot
) -> str:
    data = json.dumps(specs, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    scripts = "".join(f'<script src="/static/{name}"></script>' for name in SCRIPTS)
    other = "en" if lang == "zh-CN" else "zh-CN"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(t['title'])}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{escape(t['title'])}</h1><div>{escape(user)} · "
        f'<a href="/?lang={other}">{"English" if other == "en" else "中文"}</a> · '
        f'<form method="post" action="/logout" style="display:inline">'
        f'<button type="submit">{escape(t["sign_out"])}</button></form></div></header>'
        f"<p>{escape(t['generated'].format(now=snap.now.strftime('%Y-%m-%d %H:%M:%S')))}</p>"
        f'{body}<script type="application/json" id="specs">{data}</script>{scripts}'
        "</body></html>"
    )


def render_sign_in(lang: str, message: str = "") -> str:
    """The sign-in form (`message`: a key of the texts, shown above it)."""
    t = text_for(lang)
    note = f'<p class="red" id="sign-in-error">{escape(t[message])}</p>' if message else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(t['sign_in'])} · {escape(t['title'])}</title><style>{STYLE}</style>"
        f"</head><body><h1>{escape(t['title'])}</h1>{note}"
        f'<form method="post" action="/login?lang={lang}">'
        f'<p><label>{escape(t["user"])} <input name="user" id="user" autocomplete="username">'
        f'</label></p><p><label>{escape(t["password"])} <input name="password" id="password" '
        f'type="password" autocomplete="current-password"></label></p>'
        f'<p><button type="submit" id="submit">{escape(t["sign_in"])}</button></p></form>'
        "</body></html>"
    )
