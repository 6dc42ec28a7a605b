"""Plaintext truth for overlap and profile queries, by direct set and pandas arithmetic.

This module is the independent oracle the protocols are checked against. It imports nothing
from ``protocols``, ``connectors``, ``node`` or ``coordinator``: identifier normalisation is
passed in by the caller, and everything else is plain counting in the clear.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

OTHER_BIN = "other"
"""Bin that collects categorical values outside the declared domain, and missing values."""


class MissingColumnError(KeyError):
    """A CSV lacks the identifier column that was asked for."""

    def __init__(self, path: Path, column: str, columns: Sequence[str]) -> None:
        super().__init__(f"{path}: no column {column!r} (columns: {', '.join(columns)})")
        self.path, self.column = path, column

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class OverlapTruth:
    """Exact overlap counts of N sets; ``regions`` is keyed by the exact set of members."""

    sizes: dict[str, int]
    regions: dict[frozenset[str], int]
    pairwise: dict[tuple[str, str], int]
    all_parties: int

    def pair(self, a: str, b: str) -> int:
        """|A ∩ B| whichever order the pair is named in."""
        return self.pairwise[(a, b)] if (a, b) in self.pairwise else self.pairwise[(b, a)]


def overlap_truth(sets: Mapping[str, AbstractSet[Hashable]]) -> OverlapTruth:
    """Sizes, every non-empty Venn region (zeros included), pairwise and N-way intersections.

    ``regions[frozenset({"a", "b"})]`` counts elements in a and b and in no other set.
    ``pairwise`` has one key per unordered pair, in the mapping's order: (first, later).
    """
    parties = list(sets)
    if not parties:
        raise ValueError("overlap_truth needs at least one party")
    membership: dict[Hashable, int] = {}
    for bit, party in enumerate(parties):
        for element in sets[party]:
            membership[element] = membership.get(element, 0) | (1 << bit)
    by_mask = Counter(membership.values())
    regions = {
        frozenset(p for bit, p in enumerate(parties) if mask >> bit & 1): by_mask.get(mask, 0)
        for mask in range(1, 1 << len(parties))
    }
    pairwise = {(a, b): len(sets[a] & sets[b]) for a, b in itertools.combinations(parties, 2)}
    return OverlapTruth(
        sizes={p: len(sets[p]) for p in parties},
        regions=regions,
        pairwise=pairwise,
        all_parties=regions[frozenset(parties)],
    )


def identifier_sets_from_files(
    paths: Mapping[str, Path], column: str, normalise: Callable[[str], str | None]
) -> dict[str, set[str]]:
    """Per party, the set of normalised values of ``column``; values mapped to None are dropped.

    Cells are read as text exactly as written (no NA guessing, so an empty cell is ``""``).
    """
    result: dict[str, set[str]] = {}
    for party, path in paths.items():
        header = pd.read_csv(path, nrows=0).columns.tolist()
        if column not in header:
            raise MissingColumnError(path, column, header)
        values = pd.read_csv(path, usecols=[column], dtype=str, keep_default_na=False)[column]
        normalised = (normalise(v) for v in values.tolist())
        result[party] = {v for v in normalised if v is not None}
    return result


@dataclass(frozen=True)
class NumericTruth:
    """Aggregates of one numeric attribute over matched members with a present value.

    Each value is clipped to (lower, upper), then turned into the integer ``round(v * scale)``
    with round-half-to-even on the float product (numpy.rint, as Python's round()).
    ``sum_fixed`` and ``sum_squares_fixed`` are exact integer sums of those integers; ``sum``,
    ``mean`` and ``std`` are in the attribute's own unit (divided by scale). ``std`` is the
    population standard deviation (ddof=0), i.e. sqrt(E[x^2] - E[x]^2), which is what a count,
    a sum and a sum of squares determine. ``mean`` and ``std`` are None when ``count`` is 0.
    """

    count: int
    sum_fixed: int
    sum_squares_fixed: int
    scale: int
    sum: float
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class ProfileTruth:
    """Per-bin counts and numeric aggregates over the matched rows of an owner's table."""

    matched: int
    categorical: dict[str, dict[str, int]]
    numeric: dict[str, NumericTruth]


def profile_truth(
    owner_frame: pd.DataFrame,
    matched_mask: Sequence[bool] | npt.NDArray[np.bool_] | pd.Series[bool],
    categorical: Mapping[str, Sequence[str]],
    numeric: Mapping[str, tuple[float, float, int]],
) -> ProfileTruth:
    """The profile a query must return, computed in the clear.

    ``matched_mask`` selects rows by position. ``categorical`` maps a column to its domain;
    counts are returned in domain order followed by ``other`` (values outside the domain,
    empty strings and missing values). ``numeric`` maps a column to (lower, upper, scale);
    missing or non-numeric cells are left out of count, sums, mean and std.
    """
    mask = np.asarray(matched_mask, dtype=bool)
    if mask.shape != (len(owner_frame),):
        raise ValueError(f"matched_mask has shape {mask.shape}, frame has {len(owner_frame)} rows")
    for name in [*categorical, *numeric]:
        if name not in owner_frame.columns:
            raise KeyError(f"owner frame has no column {name!r}")
    matched = owner_frame.loc[mask]
    return ProfileTruth(
        matched=int(mask.sum()),
        categorical={
            name: _bin_counts(matched[name], domain) for name, domain in categorical.items()
        },
        numeric={name: _numeric_truth(matched[name], *bounds) for name, bounds in numeric.items()},
    )


def _bin_counts(values: pd.Series[Any], domain: Sequence[str]) -> dict[str, int]:
    if OTHER_BIN in domain or len(set(domain)) != len(domain):
        raise ValueError(f"domain {list(domain)} repeats a value or contains {OTHER_BIN!r}")
    present = values.dropna().astype(str)
    counts = present.value_counts()
    bins = {value: int(counts.get(value, 0)) for value in domain}
    bins[OTHER_BIN] = len(values) - sum(bins.values())
    return bins


def _numeric_truth(values: pd.Series[Any], lower: float, upper: float, scale: int) -> NumericTruth:
    if not lower <= upper or scale < 1:
        raise ValueError(f"bad numeric spec: lower={lower}, upper={upper}, scale={scale}")
    present = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
    fixed = np.rint(np.clip(present, lower, upper) * scale).astype(np.int64).tolist()
    count, total = len(fixed), sum(fixed)
    squares = sum(v * v for v in fixed)
    mean = std = None
    if count:
        mean = total / count / scale
        variance = (squares * count - total * total) / (count * count)
        std = math.sqrt(variance) / scale
    return NumericTruth(count, total, squares, scale, total / scale, mean, std)
