"""Recurring queries declared in coordinator.toml (`[schedules.NAME]`) and when each is due."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runtime.config_file import ConfigError, expect, optional, require, unknown_keys
from runtime.signing import AUDIENCES, SHARED

EVERY = ("daily", "weekly", "monthly")
KINDS = ("overlap", "profile")
SCHEDULE_KEYS = frozenset(
    {
        "every",
        "at",
        "day",
        "kind",
        "parties",
        "id_type",
        "querier",
        "owners",
        "attributes",
        "audience",
        "signing_key",
        "timeout_seconds",
    }
)


@dataclass(frozen=True)
class Schedule:
    """One recurring query: what to ask, who signs it, and when (UTC).

    Weekly schedules run on ISO weekday `day` (1 = Monday), monthly ones on day `day` of the
    month (1-28); all at `at` (HH:MM). `signing_key` is the querier's query-signing key, needed
    when the nodes run policies (they accept only queries the querier signed).
    """

    name: str
    every: str
    kind: str
    parties: tuple[str, ...]
    querier: str
    id_type: str = "email"
    owners: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    audience: str = SHARED
    at: tuple[int, int] = (2, 0)
    day: int = 1
    signing_key: Path | None = None
    timeout_seconds: float | None = None

    def slot(self, now: datetime) -> datetime:
        """The start of the latest period that has begun at `now` (a run is due once per slot)."""
        now = now.astimezone(UTC)
        hour, minute = self.at
        if self.every == "daily":
            start = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            return start if start <= now else start - timedelta(days=1)
        if self.every == "weekly":
            start = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            start -= timedelta(days=(now.isoweekday() - self.day) % 7)
            return start if start <= now else start - timedelta(days=7)
        start = now.replace(day=self.day, hour=hour, minute=minute, second=0, microsecond=0)
        if start <= now:
            return start
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        return start.replace(year=year, month=month, day=min(self.day, _days(year, month)))


def _days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def parse_schedules(
    table: Mapping[str, Any], parties: Mapping[str, str], base: Path, where: str
) -> tuple[Schedule, ...]:
    """`[schedules.NAME]` tables of coordinator.toml; every mistake is one ConfigError line."""
    return tuple(
        _schedule(name, expect(raw, dict, f"{where} [schedules.{name}]"), parties, base, where)
        for name, raw in table.items()
    )


def schedule_key_problems(table: object, where: str) -> list[str]:
    """Unknown keys in each `[schedules.NAME]` table, nearest known key suggested."""
    if not isinstance(table, dict):
        return []
    return [
        problem
        for name, raw in table.items()
        if isinstance(raw, dict)
        for problem in unknown_keys(raw, SCHEDULE_KEYS, f"{where} [schedules.{name}]")
    ]


def _schedule(
    name: str, raw: dict[str, Any], parties: Mapping[str, str], base: Path, where: str
) -> Schedule:
    key = f"{where} [schedules.{name}]"
    every = require(raw, "every", str, key)
    if every not in EVERY:
        raise ConfigError(f"{key}.every: {every!r} is not one of {', '.join(EVERY)}")
    kind = require(raw, "kind", str, key)
    if kind not in KINDS:
        raise ConfigError(f"{key}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    names = _names(raw, "parties", key) if kind == "overlap" else ()
    querier = optional(raw, "querier", str, names[0] if names else "", key)
    owners = _names(raw, "owners", key) if kind == "profile" else ()
    attributes = _names(raw, "attributes", key) if kind == "profile" else ()
    if kind == "profile" and not querier:
        raise ConfigError(f"{key}: missing key 'querier' (the party whose audience is profiled)")
    if kind == "overlap" and len(names) < 2:
        raise ConfigError(f"{key}.parties: an overlap needs at least two parties")
    if kind == "overlap" and querier not in names:
        raise ConfigError(f"{key}.querier: {querier!r} is not one of the schedule's parties")
    involved = names if kind == "overlap" else (querier, *owners)
    for party in involved:
        if party not in parties:
            known = ", ".join(sorted(parties))
            raise ConfigError(f"{key}: unknown party {party!r}; [parties] has {known}")
    audience = optional(raw, "audience", str, SHARED, key)
    if audience not in AUDIENCES:
        raise ConfigError(f"{key}.audience: {audience!r} is not one of {', '.join(AUDIENCES)}")
    day = optional(raw, "day", int, 1, key)
    if every == "weekly" and not 1 <= day <= 7:
        raise ConfigError(f"{key}.day: a weekly schedule's day is 1 (Monday) to 7, got {day}")
    if every == "monthly" and not 1 <= day <= 28:
        raise ConfigError(f"{key}.day: a monthly schedule's day is 1 to 28, got {day}")
    timeout = optional(raw, "timeout_seconds", float, 0.0, key)
    if timeout < 0:
        raise ConfigError(f"{key}.timeout_seconds: must be positive, got {timeout}")
    signing_key = optional(raw, "signing_key", str, "", key)
    return Schedule(
        name=name,
        every=every,
        kind=kind,
        parties=names or (querier, *owners),
        querier=querier,
        id_type=optional(raw, "id_type", str, "email", key),
        owners=owners,
        attributes=attributes,
        audience=audience,
        at=_clock(optional(raw, "at", str, "02:00", key), f"{key}.at"),
        day=day,
        signing_key=base / signing_key if signing_key else None,
        timeout_seconds=timeout or None,
    )


def _names(raw: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
    values = require(raw, name, list, key)
    for index, value in enumerate(values):
        expect(value, str, f"{key}.{name}[{index}]")
    if not values:
        raise ConfigError(f"{key}.{name}: name at least one")
    return tuple(values)


def _clock(text: str, where: str) -> tuple[int, int]:
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60:
        return int(hour), int(minute)
    raise ConfigError(f'{where}: {text!r} is not a time of day HH:MM (UTC), e.g. "02:00"')
