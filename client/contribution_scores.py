"""Contribution scores (资源贡献度): private measures and declared inputs, weighted per partner.

Measures per partner: `reach` (the querier's customers it holds), `unique_reach` (held by it
alone among the partners), `shapley` (Shapley value of reach, client.insights) from one
overlap query; `shared_spend` (the sum of a spend attribute over its shared audience) from a
profile query; `lift` (absolute lift of one outcome, client.lift) from a campaign's two
profile queries; and any number the partners declare in the weights file (exclusive-SKU
share, store count, ...).

Weights file (TOML):

    [weights]                  # measure = weight (>= 0; normalised to sum 1 over those used)
    reach = 1
    shapley = 2
    shared_spend = 1
    lift = 1
    store_count = 0.5          # any other name is a declared input
    [partners.retailer_a]      # each partner declares every weighted input
    store_count = 40

Score: each measure's values are shared out over the partners (a partner's share is its value,
negatives as 0, over the sum; all 0: no share), and a partner's score is the weighted sum of its
shares; the suggested traffic weight is its score over all scores (they sum to 1). A measure
unknown for any partner (a hidden count) is left out and named, the other weights renormalised.
Every value names its source: the query id it was released by, or the weights file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from client.insights import contribution
from client.lift import CampaignLift
from model.results import OverlapResult, ProfileResult

PRIVATE = ("reach", "unique_reach", "shapley", "shared_spend", "lift")


class WeightsError(ValueError):
    """The weights file, or what is asked of it, is wrong; the message names file and key."""


@dataclass(frozen=True)
class Weights:
    """Weights by measure, and each partner's declared inputs, as read from `path`."""

    path: str
    weights: dict[str, float]
    declared: dict[str, dict[str, float]] = field(default_factory=dict)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WeightsError(f"{where} must be a number, got {value!r}")
    if value < 0:
        raise WeightsError(f"{where} must not be negative, got {value!r}")
    return float(value)


def load_weights(path: Path) -> Weights:
    """Read and check a weights file; WeightsError in one line naming the file and key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise WeightsError(f"{path}: cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WeightsError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(raw) - {"weights", "partners"})
    if unknown:
        raise WeightsError(f"{path}: unknown key {unknown[0]!r}; the tables are weights, partners")
    table = raw.get("weights")
    if not isinstance(table, dict) or not table:
        raise WeightsError(f"{path}: [weights] is missing or empty (measure = weight)")
    weights = {k: _number(v, f"{path}: [weights].{k}") for k, v in table.items()}
    if not any(weights.values()):
        raise WeightsError(f"{path}: [weights]: every weight is 0; give one a positive weight")
    partners = raw.get("partners", {})
    if not isinstance(partners, dict):
        raise WeightsError(f"{path}: partners must be tables [partners.NAME]")
    declared: dict[str, dict[str, float]] = {}
    for name, inputs in partners.items():
        if not isinstance(inputs, dict):
            raise WeightsError(f"{path}: [partners.{name}] must be a table of inputs")
        for key in inputs:
            if key in PRIVATE:
                raise WeightsError(
                    f"{path}: [partners.{name}].{key} is measured privately, not declared"
                )
        declared[name] = {
            k: _number(v, f"{path}: [partners.{name}].{k}") for k, v in inputs.items()
        }
    return Weights(str(path), weights, declared)


@dataclass(frozen=True)
class Measured:
    """One measure of one partner, with its 95% half-width (0: exact or declared) and source."""

    partner: str
    measure: str
    value: float | None
    half_width: float
    source: str


@dataclass(frozen=True)
class ContributionScores:
    """Every measured value, the weights used and what was left out; frames derive from them."""

    querier: str
    partners: tuple[str, ...]
    weights_file: str
    weights: dict[str, float]
    measured: tuple[Measured, ...]
    dropped: tuple[str, ...] = ()

    def _shares(self) -> dict[tuple[str, str], float]:
        shares = {}
        for measure in self.weights:
            values = {
                m.partner: max(m.value or 0.0, 0.0) for m in self.measured if m.measure == measure
            }
            total = sum(values.values())
            for partner, value in values.items():
                shares[(partner, measure)] = value / total if total > 0 else 0.0
        return shares

    def measures_frame(self) -> pd.DataFrame:
        """One row per partner and measure: value, half_width, share, weight (normalised),
        points (weight x share), source; left-out measures carry weight 0."""
        shares = self._shares()
        rows = [
            [
                m.partner,
                m.measure,
                m.value,
                m.half_width,
                shares.get((m.partner, m.measure)),
                self.weights.get(m.measure, 0.0),
                self.weights.get(m.measure, 0.0) * shares.get((m.partner, m.measure), 0.0),
                m.source,
            ]
            for m in self.measured
        ]
        columns = ["partner", "measure", "value", "half_width", "share", "weight", "points"]
        frame = pd.DataFrame(rows, columns=[*columns, "source"])
        return frame.astype({"value": "Float64", "share": "Float64"})

    def to_frame(self) -> pd.DataFrame:
        """One row per partner: `score`, `traffic_weight` (scores normalised to sum 1), then
        each measure's value."""
        long = self.measures_frame()
        scores = long.groupby("partner", sort=False)["points"].sum().reindex(self.partners)
        total = float(scores.sum())
        traffic = scores / total if total > 0 else scores * 0 + 1 / len(self.partners)
        values = long.pivot(index="partner", columns="measure", values="value")
        frame = pd.DataFrame({"score": scores, "traffic_weight": traffic})
        frame = frame.join(values.reindex(self.partners))
        frame.index.name = "partner"
        return frame

    def to_json(self) -> dict[str, Any]:
        wide = self.to_frame()
        return {
            "kind": "contribution",
            "querier": self.querier,
            "weights_file": self.weights_file,
            "weights": dict(self.weights),
            "dropped": list(self.dropped),
            "scores": [
                {
                    "partner": p,
                    "score": float(r["score"]),
                    "traffic_weight": float(r["traffic_weight"]),
                }
                for p, r in wide.iterrows()
            ],
            "measures": [
                {
                    "partner": m.partner,
                    "measure": m.measure,
                    "value": m.value,
                    "half_width": m.half_width,
                    "source": m.source,
                }
                for m in self.measured
            ],
        }


def _overlap_measures(
    overlap: OverlapResult, querier: str, partners: Sequence[str]
) -> list[Measured]:
    shares = contribution(overlap, querier, list(partners))
    source = f"overlap {overlap.query_id}"
    out = []
    for partner in partners:
        part = shares.of(partner)
        shapley = float(part.shapley) if part.shapley is not None else None
        for name, value in (
            ("reach", part.reach),
            ("unique_reach", part.unique_reach),
            ("shapley", shapley),
        ):
            out.append(
                Measured(partner, name, None if value is None else float(value), 0.0, source)
            )
    return out


def _spend_measures(
    profile: ProfileResult, attribute: str, partners: Sequence[str]
) -> list[Measured]:
    out = []
    owners = {p.owner: p for p in profile.profiles}
    for partner in partners:
        owner = owners.get(partner)
        stats = owner.numeric.get(attribute) if owner is not None else None
        bar = owner.release.error_bar(f"{attribute}.sum") if owner is not None else None
        value = stats.sum if stats is not None else None
        half = bar.half_width if bar is not None else 0.0
        out.append(Measured(partner, "shared_spend", value, half, f"profile {profile.query_id}"))
    return out


def _lift_measures(lift: CampaignLift, outcome: str, partners: Sequence[str]) -> list[Measured]:
    rows = {(r.owner, r.outcome): r for r in lift.rows()}
    source = f"lift {lift.exposed.query_id} vs {lift.holdout.query_id}"
    out = []
    for partner in partners:
        row = rows.get((partner, outcome))
        value = row.lift if row is not None else None
        half = row.lift_half_width if row is not None and row.lift_half_width else 0.0
        out.append(Measured(partner, "lift", value, half, source))
    return out


def contribution_scores(
    weights: Weights,
    overlap: OverlapResult,
    querier: str,
    partners: Sequence[str] | None = None,
    spend: ProfileResult | None = None,
    spend_attribute: str = "",
    lift: CampaignLift | None = None,
    lift_outcome: str = "",
) -> ContributionScores:
    """Score the partners (default: the overlap's parties but the querier) by `weights`; a
    weighted measure needs its answer (`spend` with `spend_attribute`, `lift` with
    `lift_outcome`) and every partner's declaration of a weighted input, else WeightsError."""
    chosen = tuple(partners or [p for p in overlap.parties if p != querier])
    used = {k: v for k, v in weights.weights.items() if v > 0}
    measured = _overlap_measures(overlap, querier, chosen)
    if "shared_spend" in used:
        if spend is None or not spend_attribute:
            raise WeightsError(
                f"{weights.path}: [weights].shared_spend is weighted: give a shared-audience "
                "profile and its spend attribute (--spend ATTRIBUTE)"
            )
        measured += _spend_measures(spend, spend_attribute, chosen)
    if "lift" in used:
        if lift is None or not lift_outcome:
            raise WeightsError(
                f"{weights.path}: [weights].lift is weighted: give a campaign lift and its "
                "outcome (--lift FILE --lift-outcome NAME)"
            )
        measured += _lift_measures(lift, lift_outcome, chosen)
    for name in (k for k in used if k not in PRIVATE):
        for partner in chosen:
            value = weights.declared.get(partner, {}).get(name)
            if value is None:
                raise WeightsError(
                    f"{weights.path}: [partners.{partner}] lacks {name!r}, weighted in [weights]"
                )
            measured.append(Measured(partner, name, value, 0.0, f"declared in {weights.path}"))
    dropped = []
    for name in list(used):
        blank = [m.partner for m in measured if m.measure == name and m.value is None]
        if blank:
            dropped.append(f"{name}: unknown for {', '.join(blank)} (a hidden count)")
            del used[name]
    if not used:
        raise WeightsError(f"{weights.path}: no weighted measure is known for every partner")
    total = sum(used.values())
    normalised = {k: v / total for k, v in used.items()}
    return ContributionScores(
        querier, chosen, weights.path, normalised, tuple(measured), tuple(dropped)
    )
