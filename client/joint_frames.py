"""Joint-operations analyses of one overlap as pandas DataFrames: prospects, complementarity,
the greedy partner mix.

Unknown numbers are NA with a `why` column naming the hidden regions (never 0); half-widths are
the 95% error bars (0.0 in exact mode); ratio intervals are joint 95% intervals.
"""

from __future__ import annotations

import pandas as pd

from client.prospects import best_partners, complementarity_matrix, prospects
from model.results import OverlapResult

MEASURES = ("adds_share", "jaccard", "adds")


def prospects_frame(result: OverlapResult, querier: str) -> pd.DataFrame:
    """One row per other party (index), ranked by prospects: `rank`, `members` (|R|),
    `prospects` (|R \\ querier|), `half_width`, `share` (prospects / members), `why`."""
    rows = [
        {
            "rank": p.rank,
            "members": p.members,
            "prospects": p.prospects.value,
            "half_width": p.prospects.half_width,
            "share": p.share,
            "why": p.prospects.why,
        }
        for p in prospects(result, querier)
    ]
    frame = pd.DataFrame(
        rows,
        columns=["rank", "members", "prospects", "half_width", "share", "why"],
        index=pd.Index([p.party for p in prospects(result, querier)], name="party"),
    )
    frame = frame.astype(
        {
            "rank": "Int64",
            "members": "Int64",
            "prospects": "Int64",
            "half_width": "float64",
            "share": "Float64",
        }
    )
    frame.attrs["querier"] = querier
    return frame


def complementarity_frame(result: OverlapResult) -> pd.DataFrame:
    """One row per ordered pair (a, b): `adds` = |B \\ A| with `adds_half_width`, `adds_share`
    = |B \\ A| / |B| and `jaccard`, each with `_low` / `_high` (joint 95%), and `why`."""
    rows = []
    for c in complementarity_matrix(result):
        rows.append(
            {
                "a": c.a,
                "b": c.b,
                "adds": c.adds.value,
                "adds_half_width": c.adds.half_width,
                "adds_share": c.adds_share.value,
                "adds_share_low": c.adds_share.low,
                "adds_share_high": c.adds_share.high,
                "jaccard": c.jaccard.value,
                "jaccard_low": c.jaccard.low,
                "jaccard_high": c.jaccard.high,
                "why": c.adds.why or c.adds_share.why or c.jaccard.why,
            }
        )
    frame = pd.DataFrame(rows).set_index(["a", "b"])
    ratios = [c for c in frame.columns if c.startswith(("adds_share", "jaccard"))]
    return frame.astype({"adds": "Int64", **{c: "Float64" for c in ratios}})


def complementarity_heatmap(result: OverlapResult, measure: str = "adds_share") -> pd.DataFrame:
    """The square matrix of one measure: row A, column B (what B adds to A for `adds_share`
    and `adds`); NA on the diagonal and where unknown."""
    if measure not in MEASURES:
        raise ValueError(f"measure {measure!r} is not one of {', '.join(MEASURES)}")
    long = complementarity_frame(result)[measure]
    parties = list(result.parties)
    matrix = long.unstack("b").reindex(index=parties, columns=parties)
    matrix.index.name, matrix.columns.name = "a", "b"
    return matrix.astype("Int64" if measure == "adds" else "Float64")


def coverage_frame(
    result: OverlapResult, k: int, querier: str | None = None, new_only: bool = True
) -> pd.DataFrame:
    """The greedy partner mix, one row per step (index `step`): `partner`, `gain` and `reach`
    with half-widths, `runner_up`, `decisive`; `attrs["stopped"]` says why it stopped early."""
    coverage = best_partners(result, k, querier, new_only)
    rows = [
        {
            "partner": s.partner,
            "gain": s.gain.value,
            "gain_half_width": s.gain.half_width,
            "reach": s.reach.value,
            "reach_half_width": s.reach.half_width,
            "runner_up": s.runner_up,
            "decisive": s.decisive,
        }
        for s in coverage.steps
    ]
    columns = [
        "partner",
        "gain",
        "gain_half_width",
        "reach",
        "reach_half_width",
        "runner_up",
        "decisive",
    ]
    frame = pd.DataFrame(
        rows, columns=columns, index=pd.Index([s.step for s in coverage.steps], name="step")
    ).astype({"gain": "Int64", "reach": "Int64", "decisive": "bool"})
    frame.attrs["stopped"] = coverage.stopped
    frame.attrs["new_only"] = coverage.new_only
    return frame
