"""Profilable attributes as declared in node.toml, and source values made ready for them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from model.errors import AttributeTypeError
from protocols.profile import Attribute, CategoricalAttribute, NumericAttribute
from runtime.config_file import ConfigError, expect, optional, require


def parse_attributes(table: Mapping[str, Any], where: str) -> dict[str, Attribute]:
    """`[attributes.NAME]` tables: kind = "categorical" with `domain`, or "numeric" with bounds."""
    specs: dict[str, Attribute] = {}
    for name, body in table.items():
        here = f"{where} [attributes.{name}]"
        body = expect(body, dict, here)
        kind = require(body, "kind", str, here)
        try:
            if kind == "categorical":
                domain = require(body, "domain", list, here)
                specs[name] = CategoricalAttribute(
                    name, tuple(expect(v, str, f"{here}.domain") for v in domain)
                )
            elif kind == "numeric":
                specs[name] = NumericAttribute(
                    name,
                    require(body, "lower", float, here),
                    require(body, "upper", float, here),
                    optional(body, "scale", int, 1, here),
                )
            else:
                raise ConfigError(f"{here}.kind: {kind!r} is neither 'categorical' nor 'numeric'")
        except ValueError as error:
            if isinstance(error, ConfigError):
                raise
            raise ConfigError(f"{here}: {error}") from None
    return specs


def attribute_column(spec: Attribute, values: Sequence[object], source: str) -> list[object]:
    """Source values ready for aggregation: numbers for numeric attributes (None when missing)."""
    if isinstance(spec, CategoricalAttribute):
        return [None if _missing(v) else str(v) for v in values]
    column = pd.Series(list(values), dtype=object)
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() & ~column.map(_missing)
    if bad.any():
        first = column[bad].iloc[0]
        raise AttributeTypeError(
            f"attribute {spec.name!r} of {source}: {int(bad.sum())} value(s) are not numbers, "
            f"e.g. {first!r} (a numeric attribute takes numbers; empty cells count as missing)"
        )
    return [None if math.isnan(x) else float(x) for x in numbers.astype(float).tolist()]


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()
