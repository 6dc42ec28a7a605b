"""The demo's profile step: attribute declarations for the retailers, and the pandas truth."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from connectors.errors import ConnectorError
from connectors.identifiers import ColumnKind, IdType, NormalisationProfile, normalise
from gongying.demo_data import (
    AGE_BANDS,
    CATEGORIES,
    CITY_TIERS,
    GENDERS,
    SPEND_BOUNDS,
    VISITS_BOUNDS,
)
from gongying.oracle import ProfileTruth, profile_truth
from model.results import OwnerProfile, ProfileResult
from protocols.paillier_attributes import Attribute, CategoricalAttribute, NumericAttribute

CATEGORICAL: dict[str, tuple[str, ...]] = {
    "age_band": AGE_BANDS,
    "gender": GENDERS,
    "city_tier": CITY_TIERS,
    "favourite_category": CATEGORIES,
}
NUMERIC: dict[str, tuple[float, float, int]] = {
    "spend_12m": (float(SPEND_BOUNDS[0]), float(SPEND_BOUNDS[1]), 100),
    "visits_12m": (float(VISITS_BOUNDS[0]), float(VISITS_BOUNDS[1]), 1),
}
ATTRIBUTES = (*CATEGORICAL, *NUMERIC)


DEMO_ATTRIBUTES: tuple[Attribute, ...] = (
    *(CategoricalAttribute(name, domain) for name, domain in CATEGORICAL.items()),
    *(NumericAttribute(name, *bounds) for name, bounds in NUMERIC.items()),
)
"""The demo retailers' profilable attributes, as their node.toml declares them."""


def _normalised(values: pd.Series, id_type: str) -> pd.Series:
    profile = NormalisationProfile()
    kind, wanted = ColumnKind(id_type), IdType(id_type)

    def one(value: str) -> str | None:
        try:
            return normalise(kind, value, wanted, profile)
        except ConnectorError:
            return None

    return values.map(one)


def profile_truths(
    paths: Mapping[str, Path], querier: str, owners: list[str], id_type: str
) -> dict[str, ProfileTruth]:
    """Per owner, the profile over members whose identifier the querier also holds.

    Like the node: rows with an invalid identifier are dropped, and the first row of each
    identifier wins.
    """
    brand = pd.read_csv(paths[querier], dtype=str, keep_default_na=False)
    brand_ids = set(_normalised(brand[id_type], id_type).dropna())
    truths = {}
    for owner in owners:
        frame = pd.read_csv(paths[owner], dtype=str, keep_default_na=False)
        frame["_id"] = _normalised(frame[id_type], id_type)
        frame = frame[frame["_id"].notna()].drop_duplicates("_id", keep="first")
        for name in NUMERIC:
            frame[name] = pd.to_numeric(frame[name].replace("", None), errors="coerce")
        frame = frame.reset_index(drop=True)
        truths[owner] = profile_truth(frame, frame["_id"].isin(brand_ids), CATEGORICAL, NUMERIC)
    return truths


def differences(result: ProfileResult, truths: Mapping[str, ProfileTruth]) -> list[str]:
    """Every cell where the query's answer differs from the truth (empty when all agree)."""
    found: list[str] = []
    combined_matched = sum(t.matched for t in truths.values())
    combined_bins = {
        name: {b: sum(t.categorical[name][b] for t in truths.values()) for b in bins}
        for name, bins in next(iter(truths.values())).categorical.items()
    }
    combined_numeric = {
        n: (
            sum(t.numeric[n].count for t in truths.values()),
            sum(t.numeric[n].sum_fixed for t in truths.values()) / NUMERIC[n][2],
        )
        for n in NUMERIC
    }
    for owner, truth in truths.items():
        _compare(
            result.profile(owner),
            owner,
            truth.matched,
            truth.categorical,
            {n: (t.count, t.sum) for n, t in truth.numeric.items()},
            found,
        )
        for name, stats in result.profile(owner).numeric.items():  # suppressed ones are absent
            expected = truth.numeric[name]
            if (
                expected.mean is not None
                and stats.mean is not None
                and not math.isclose(stats.mean, expected.mean, rel_tol=1e-9)
            ):
                found.append(f"{owner} {name} mean {stats.mean} != {expected.mean}")
            if (
                expected.std is not None
                and stats.std is not None
                and not math.isclose(stats.std, expected.std, rel_tol=1e-6, abs_tol=1e-9)
            ):
                found.append(f"{owner} {name} std {stats.std} != {expected.std}")
    if len(truths) > 1:
        _compare(
            result.profile("combined"),
            "combined",
            combined_matched,
            combined_bins,
            combined_numeric,
            found,
        )
    return found


def _compare(
    got: OwnerProfile,
    owner: str,
    matched: int,
    bins: Mapping[str, Mapping[str, int]],
    numeric: Mapping[str, tuple[int, float]],
    found: list[str],
) -> None:
    """Released cells must equal the truth; suppressed ones (None, `<k`) are not compared."""
    if got.overlap not in (matched, None):
        found.append(f"{owner} overlap {got.overlap} != {matched}")
    for name, expected in bins.items():
        released = got.categorical.get(name, {})
        wrong = {b: n for b, n in released.items() if n is not None and n != expected.get(b)}
        if wrong or set(released) != set(expected):
            found.append(f"{owner} {name} bins {dict(released)} != {dict(expected)}")
    for name, (count, total) in numeric.items():
        if name in got.suppressed_numeric:
            continue
        stats = got.numeric[name]
        if stats.count != count or not math.isclose(stats.sum, total, rel_tol=1e-12, abs_tol=1e-6):
            found.append(f"{owner} {name} count/sum {stats.count}/{stats.sum} != {count}/{total}")
