"""Checked values of policy.toml: paths, lists of names, choices, agreement hashes, bounds."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from runtime.config_file import ConfigError, expect

_SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")


def path_value(value: Any, base: Path, where: str) -> Path | None:
    text = expect(value, str, where)
    if not text:
        return None
    path = Path(text)
    return path if path.is_absolute() else base / path


def string_list(value: Any, where: str) -> list[str]:
    items = expect(value, list, where)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{where}: expected non-empty strings, got {item!r}")
    return items


def agreement_hashes(value: Any, where: str) -> frozenset[str]:
    items = string_list(value, where)
    for item in items:
        if not _SHA256_HEX.match(item):
            raise ConfigError(
                f"{where}: {item!r} is not an agreement hash (64 lower-case hex digits, as "
                "`gongying settle check --agreement FILE` prints)"
            )
    return frozenset(items)


def choice_set(value: Any, allowed: Sequence[str], where: str) -> frozenset[str]:
    items = string_list(value, where)
    for item in items:
        if item not in allowed:
            raise ConfigError(f"{where}: {item!r} is not one of {', '.join(allowed)}")
    return frozenset(items)


def at_least(value: Any, lowest: int, where: str) -> int:
    number = expect(value, int, where)
    if number < lowest:
        raise ConfigError(f"{where}: must be at least {lowest}, got {number}")
    return number


def epsilon_value(value: Any, where: str) -> float:
    number = expect(value, float, where)
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{where}: must be a finite number >= 0, got {number}")
    return number
