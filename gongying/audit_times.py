"""Times a data officer types: ISO dates and datetimes, or spans back from now (`7d`, `24h`)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

_SPAN: Final = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class BadTime(ValueError):
    """A time the officer typed that is neither ISO 8601 nor a span like 7d."""


def parse_moment(text: str, option: str, now: datetime, end_of_day: bool = False) -> datetime:
    """`text` as a UTC instant: `7d`, `24h`, `30m`, `2w` back from `now`; an ISO datetime (read
    as UTC without a zone); or an ISO date, its midnight (the next midnight with `end_of_day`,
    so `--until 2026-03-01` includes that day)."""
    span = _SPAN.match(text)
    if span is not None:
        amount, unit = int(span.group(1)), span.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadTime(
            f"{option} {text!r} is not a date (2026-03-01), a time (2026-03-01T09:30, UTC "
            "unless it names a zone) or a span back from now (7d, 24h, 30m, 2w)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_span(
    since: str | None, until: str | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """(since, until) instants, either None when not given; BadTime when until precedes since."""
    start = parse_moment(since, "--since", now) if since is not None else None
    end = parse_moment(until, "--until", now, end_of_day=True) if until is not None else None
    if start is not None and end is not None and end < start:
        raise BadTime(f"--until {until} is before --since {since}: swap them")
    return start, end
