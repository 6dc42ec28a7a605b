"""Vega-Lite specifications of the dashboard's charts (rendered in the browser by the vendored
vega-embed; nothing is drawn by hand)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coordinator.dashboard_data import Activity
from coordinator.dashboard_trends import Point
from coordinator.history import SettlementShare

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier; never fetched
Spec = dict[str, Any]


def _base(title: str, rows: list[dict[str, Any]]) -> Spec:
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": "container",
        "height": 220,
        "data": {"values": rows},
    }


def series_chart(points: Sequence[Point], title: str, y_title: str, series_title: str) -> Spec:
    """Lines with points over the slots, one per series, with 95% error bars where noised."""
    rows = [
        {
            "slot": p.slot.strftime("%Y-%m-%d"),
            "series": p.series,
            "value": p.value,
            "low": p.value - p.half_width,
            "high": p.value + p.half_width,
        }
        for p in points
    ]
    x = {"field": "slot", "type": "temporal", "title": None}
    color = {"field": "series", "type": "nominal", "title": series_title}
    layers: list[Spec] = [
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": x,
                "y": {"field": "value", "type": "quantitative", "title": y_title},
                "color": color,
                "tooltip": [
                    {"field": "slot", "type": "temporal"},
                    {"field": "series", "type": "nominal"},
                    {"field": "value", "type": "quantitative", "format": ",.4~f"},
                ],
            },
        }
    ]
    if any(p.half_width for p in points):
        layers.append(
            {
                "mark": "rule",
                "encoding": {
                    "x": x,
                    "y": {"field": "low", "type": "quantitative"},
                    "y2": {"field": "high"},
                    "color": color,
                },
            }
        )
    return {**_base(title, rows), "layer": layers}


def activity_chart(activity: Sequence[Activity], title: str, labels: dict[str, str]) -> Spec:
    """Queries per partner, stacked by outcome."""
    rows = [
        {"party": a.party, "outcome": labels[outcome], "count": count}
        for a in activity
        for outcome, count in (
            ("released", a.released),
            ("refused", a.refused),
            ("failed", a.failed),
        )
    ]
    return {
        **_base(title, rows),
        "mark": "bar",
        "encoding": {
            "x": {"field": "party", "type": "nominal", "title": None, "axis": {"labelAngle": 0}},
            "y": {"field": "count", "type": "quantitative", "title": None, "stack": "zero"},
            "color": {
                "field": "outcome",
                "type": "nominal",
                "title": None,
                "scale": {
                    "domain": [labels[k] for k in ("released", "refused", "failed")],
                    "range": ["#43a047", "#fb8c00", "#e53935"],
                },
            },
            "tooltip": [
                {"field": "party"},
                {"field": "outcome"},
                {"field": "count", "type": "quantitative"},
            ],
        },
    }


def budget_chart(activity: Sequence[Activity], title: str, used: str, budget: str) -> Spec:
    """Epsilon used per partner next to its agreed budget (where one is set)."""
    rows = [{"party": a.party, "what": used, "epsilon": a.epsilon} for a in activity]
    rows += [
        {"party": a.party, "what": budget, "epsilon": a.budget}
        for a in activity
        if a.budget is not None
    ]
    return {
        **_base(title, rows),
        "mark": "bar",
        "encoding": {
            "x": {"field": "party", "type": "nominal", "title": None, "axis": {"labelAngle": 0}},
            "xOffset": {"field": "what"},
            "y": {"field": "epsilon", "type": "quantitative", "title": "ε"},
            "color": {"field": "what", "type": "nominal", "title": None},
        },
    }


def settlement_chart(shares: Sequence[SettlementShare], title: str) -> Spec:
    """Each party's share per settlement period, stacked to 100%."""
    rows = [{"period": s.period, "party": s.party, "share": s.share} for s in shares]
    return {
        **_base(title, rows),
        "mark": "bar",
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "title": None},
            "y": {"field": "share", "type": "quantitative", "stack": "normalize", "title": None},
            "color": {"field": "party", "type": "nominal", "title": None},
        },
    }


def sparkline(points: Sequence[Point]) -> Spec:
    """A dimension's trend, small."""
    rows = [{"slot": p.slot.strftime("%Y-%m-%d"), "value": p.value} for p in points]
    return {
        "$schema": SCHEMA,
        "width": 160,
        "height": 36,
        "data": {"values": rows},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "slot", "type": "temporal", "axis": None},
            "y": {"field": "value", "type": "quantitative", "axis": None},
        },
        "config": {"view": {"stroke": None}},
    }
