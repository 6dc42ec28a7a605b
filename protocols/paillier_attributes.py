"""Attribute declarations for profile queries and their plaintext encodings (owner side).

A ``CategoricalAttribute`` maps each value to a bin index: the declared domain, then ``other``,
which counts both unknown values and missing ones (None/NaN). Folding missing into ``other``
keeps the number of released cells minimal (fewer small cells to suppress); a querier who needs
them apart declares the expected values explicitly.

A ``NumericAttribute`` clips values to [lower, upper] and encodes them fixed-point:
``e = rint(clip(v) * scale) - rint(lower * scale)`` (round half to even), so 0 <= e <=
``max_encoded`` and the value represented is (e + offset) / scale exactly. Missing values encode
to -1 and are skipped by the aggregation; the count of present values is itself an aggregate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

OTHER_BIN = "other"
"""Name of the bin that counts unknown and missing categorical values."""

MISSING = -1
"""Encoded value of a missing numeric value (skipped by the aggregation)."""

_MAX_EXACT_FLOAT = 2**53


class AttributeDeclarationError(ValueError):
    """An attribute declaration is malformed (names the attribute and the rule broken)."""


class InvalidAttributeValue(ValueError):
    """A numeric attribute value is not a number (names the attribute and the row)."""


@dataclass(frozen=True)
class CategoricalAttribute:
    """A categorical attribute: bins are ``domain`` then ``other``."""

    name: str
    domain: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.domain, tuple) or not self.domain:
            raise AttributeDeclarationError(
                f"attribute {self.name!r}: domain must be a non-empty tuple of strings"
            )
        for value in self.domain:
            if not isinstance(value, str):
                raise AttributeDeclarationError(
                    f"attribute {self.name!r}: domain value {value!r} is not a string"
                )
        if len(set(self.domain)) != len(self.domain):
            raise AttributeDeclarationError(f"attribute {self.name!r}: domain has duplicates")
        if OTHER_BIN in self.domain:
            raise AttributeDeclarationError(
                f"attribute {self.name!r}: {OTHER_BIN!r} is reserved for unknown and missing values"
            )

    @property
    def bins(self) -> tuple[str, ...]:
        """Bin names in ciphertext order: the domain, then ``other``."""
        return (*self.domain, OTHER_BIN)

    def encode(self, values: Iterable[object]) -> list[int]:
        """Bin index per value; values outside the domain, None and NaN go to ``other``."""
        lookup = {value: index for index, value in enumerate(self.domain)}
        other = len(self.domain)
        get = lookup.get
        return [get(value, other) if isinstance(value, str) else other for value in values]


@dataclass(frozen=True)
class NumericAttribute:
    """A numeric attribute clipped to [lower, upper], fixed-point with ``scale`` steps per unit."""

    name: str
    lower: float
    upper: float
    scale: int

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise AttributeDeclarationError(f"attribute {self.name!r}: bounds must be finite")
        if not self.lower < self.upper:
            raise AttributeDeclarationError(
                f"attribute {self.name!r}: lower bound {self.lower} is not below upper {self.upper}"
            )
        if isinstance(self.scale, bool) or not isinstance(self.scale, int) or self.scale < 1:
            raise AttributeDeclarationError(
                f"attribute {self.name!r}: scale must be an integer >= 1, got {self.scale!r}"
            )
        if max(abs(self.lower), abs(self.upper)) * self.scale >= _MAX_EXACT_FLOAT:
            raise AttributeDeclarationError(
                f"attribute {self.name!r}: bounds times scale exceed 2^53, "
                "fixed-point encoding would be inexact"
            )

    @property
    def offset(self) -> int:
        """rint(lower * scale): the encoded value e stands for (e + offset) / scale."""
        return int(np.rint(self.lower * self.scale))

    @property
    def max_encoded(self) -> int:
        """Largest encoded value (the upper bound)."""
        return int(np.rint(self.upper * self.scale)) - self.offset

    def encode(self, values: Iterable[object]) -> list[int]:
        """Encoded value per row (clipped, fixed-point, shifted >= 0); ``MISSING`` when absent."""
        column = _as_float_column(self.name, values)
        missing = np.isnan(column)
        clipped = np.clip(np.where(missing, self.lower, column), self.lower, self.upper)
        encoded = np.rint(clipped * self.scale).astype(np.int64) - self.offset
        encoded[missing] = MISSING
        return [int(value) for value in encoded.tolist()]


Attribute = CategoricalAttribute | NumericAttribute
"""An attribute declaration of either kind."""


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise AttributeDeclarationError(f"attribute name must be a non-empty string: {name!r}")


def _as_float_column(name: str, values: Iterable[object]) -> np.ndarray:
    """float64 array with NaN for missing (None, NaN, pd.NA); errors name the row."""
    items = values if isinstance(values, (np.ndarray, pd.Series)) else list(values)
    if not (isinstance(items, list) and any(isinstance(value, str) for value in items)):
        try:  # fast path; strings in a list take the slow path so they are refused, not parsed
            return np.asarray(items, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    column = np.empty(len(items), dtype=np.float64)
    for row, value in enumerate(items):
        if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
            column[row] = np.nan
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, bool
        ):
            column[row] = float(value)
        else:
            raise InvalidAttributeValue(f"attribute {name!r} row {row}: {value!r} is not a number")
    return column
