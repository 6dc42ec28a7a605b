"""Trends from the schedule history: audience overlap and prospect pools per partner over time,
and the overlap totals and new-customer reach the scorecard rates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from coordinator.history import Run, released
from coordinator.schedules import Schedule
from model.results import OverlapResult


@dataclass(frozen=True)
class Point:
    """One released number of a series at a slot, with its 95% half-width (0 when exact)."""

    slot: datetime
    series: str
    value: float
    half_width: float = 0.0


@dataclass(frozen=True)
class Trends:
    """Series drawn from one overlap schedule's released runs (`schedule`, its `querier`)."""

    schedule: str
    querier: str
    overlap: tuple[Point, ...]  # |querier ∩ partner| per partner
    prospects: tuple[Point, ...]  # |partner \\ querier| per partner
    overlap_total: tuple[Point, ...]  # Σ over partners of the overlap
    reach: tuple[Point, ...]  # members of any partner the querier lacks / querier's set size


EMPTY = Trends("", "", (), (), (), ())


def overlap_trends(runs: Sequence[Run], schedules: Sequence[Schedule]) -> Trends:
    """The trends of the first overlap schedule (config order) that has released runs."""
    queriers = {s.name: s.querier for s in schedules if s.kind == "overlap"}
    released_runs = list(released(list(runs), "overlap"))
    for name, querier in queriers.items():
        mine = [run for run in released_runs if run.schedule == name]
        if mine:
            return _trends(name, querier, mine)
    return EMPTY


def _trends(name: str, querier: str, runs: Sequence[Run]) -> Trends:
    overlap, prospects, totals, reach = [], [], [], []
    for run in runs:
        assert run.result is not None
        result = OverlapResult.from_json(run.result)
        bars = _half_widths(run.result)
        partners = [p for p in result.parties if p != querier]
        pairs = {p: result.pair(querier, p) for p in partners}
        for partner, shared in pairs.items():
            size = result.set_sizes.get(partner)
            if shared is not None:
                overlap.append(Point(run.slot, partner, shared, bars.get("pairwise", 0.0)))
            if shared is not None and size is not None:
                spread = bars.get("pairwise", 0.0) + bars.get("set_sizes", 0.0)
                prospects.append(Point(run.slot, partner, size - shared, spread))
        if partners and all(v is not None for v in pairs.values()):
            totals.append(Point(run.slot, "total", sum(v or 0 for v in pairs.values())))
        new = [count for members, count in result.regions if querier not in members]
        own = result.set_sizes.get(querier)
        if new and own and all(c is not None for c in new):
            reach.append(Point(run.slot, "reach", sum(c or 0 for c in new) / own))
    return Trends(name, querier, tuple(overlap), tuple(prospects), tuple(totals), tuple(reach))


def _half_widths(result: Mapping[str, object]) -> dict[str, float]:
    release = result.get("release")
    bars = release.get("error_bars", []) if isinstance(release, dict) else []
    return {str(bar["table"]): float(bar["half_width"]) for bar in bars if isinstance(bar, dict)}


def growth(points: Sequence[Point]) -> float | None:
    """Relative change of the last value over the one before (None with fewer than two)."""
    if len(points) < 2 or points[-2].value == 0:
        return None
    return (points[-1].value - points[-2].value) / points[-2].value
