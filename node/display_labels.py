"""Owners' display labels (`[labels.<lang>]` in node.toml): names for attributes and bins.

    [labels.zh-CN]
    category = "品类"                      # the attribute's name
    "category.food_beverage" = "食品饮料"   # a bin's name (quoted: `attribute.bin`)
    tier.tier1 = "一线城市"                  # dotted keys work when the attribute has no name

Labels travel to the querier with a profile answer (the attributes asked only), so its report
says 食品饮料 where the data says `food_beverage`. Every key must name a declared attribute or
one of its bins (or `other`); languages are those the report speaks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from protocols.profile import OTHER_BIN, Attribute, CategoricalAttribute
from runtime.config_file import ConfigError
from runtime.languages import LANGUAGES, nearest_language

Labels = dict[str, dict[str, str]]


def _flatten(table: Mapping[str, Any], prefix: str, where: str) -> dict[str, str]:
    """`{"category": {"food_beverage": "食品饮料"}}` and `{"category.food_beverage": ...}` alike
    as `{"category.food_beverage": "食品饮料"}`."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name, where))
        elif isinstance(value, str) and value.strip():
            flat[name] = value.strip()
        else:
            raise ConfigError(
                f'{where}.{name}: a label is a non-empty string, e.g. {name} = "食品饮料"; '
                f"got {value!r}"
            )
    return flat


def _check_key(key: str, attributes: Mapping[str, Attribute], where: str) -> None:
    """A label key names a declared attribute (`category`) or one of its bins
    (`category.food_beverage`); else one line with the nearest valid key."""
    attribute, _, value = key.partition(".")
    spec = attributes.get(attribute)
    if spec is None:
        near = difflib.get_close_matches(attribute, list(attributes), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        declared = ", ".join(sorted(attributes)) or "none"
        raise ConfigError(
            f"{where}.{key}: no attribute {attribute!r} in [attributes] (declared: {declared})"
            + hint
        )
    if not value:
        return
    if not isinstance(spec, CategoricalAttribute):
        raise ConfigError(
            f"{where}.{key}: {attribute!r} is numeric and has no bins; label the attribute "
            f"itself ({attribute} = ...)"
        )
    bins = [*spec.domain, OTHER_BIN]
    if value not in bins:
        near = difflib.get_close_matches(value, bins, n=1)
        hint = f"; did you mean {attribute}.{near[0]}?" if near else ""
        raise ConfigError(
            f"{where}.{key}: {value!r} is not a bin of {attribute!r} (its domain: "
            f"{', '.join(bins)})" + hint
        )


def parse_labels(
    table: Mapping[str, Any], attributes: Mapping[str, Attribute], where: str
) -> Labels:
    """The `[labels]` table: per language, checked keys -> display names."""
    labels: Labels = {}
    for lang, body in table.items():
        here = f"{where} [labels.{lang}]"
        if lang not in LANGUAGES:
            near = nearest_language(str(lang))
            hint = f" (did you mean [labels.{near}]?)" if near else ""
            raise ConfigError(
                f"{where} [labels.{lang}]: unknown language {lang!r}{hint}; "
                f"supported: {', '.join(LANGUAGES)}"
            )
        if not isinstance(body, Mapping):
            raise ConfigError(f'{here}: a table of labels, e.g. category = "品类"')
        flat = _flatten(body, "", here)
        for key in flat:
            _check_key(key, attributes, here)
        labels[lang] = flat
    return labels


def labels_for(labels: Labels, attributes: Iterable[Attribute]) -> Labels:
    """The labels of the attributes asked only (nothing about the others reaches the querier)."""
    wanted = {spec.name for spec in attributes}
    out: Labels = {}
    for lang, names in labels.items():
        picked = {k: v for k, v in names.items() if k.partition(".")[0] in wanted}
        if picked:
            out[lang] = picked
    return out
