"""The budget ledger read by a data officer: each partner's standing, and the charges in a span
of time (read-only; nothing here counts, holds or charges)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from node.ledger_schema import (
    CHARGED_STATES,
    MICROS_PER_DAY,
    NANO,
    RESERVED,
    charges_table,
    micros,
    utc_time,
)
from node.policy import PartnerTerms, Policy
from runtime.storage import sqlite_path, store_engine


class LedgerUnreadable(LookupError):
    """No ledger at the location given (a missing file, or a database without its table)."""


@dataclass(frozen=True)
class Standing:
    """A partner at `now`: queries in the last 24 h against queries_per_day, epsilon charged and
    held in the rolling window against epsilon_per_period, and when the window next frees some."""

    partner: str
    now: datetime
    queries_today: int
    queries_per_day: int
    next_query_frees: datetime | None  # the oldest query of the last 24 h stops counting then
    spent: float
    reserved: float
    budget: float
    period_days: int
    next_charge_falls_out: datetime | None  # the oldest charge in the window leaves it then
    next_charge_epsilon: float  # epsilon freed then

    @property
    def left(self) -> float:
        """Epsilon still available in the window (never below 0)."""
        return max(0.0, round(self.budget - self.spent - self.reserved, 9))


def open_ledger_engine(location: str) -> Engine:
    """An engine on the ledger at a path or SQLAlchemy URL; LedgerUnreadable when absent."""
    path = sqlite_path(location)
    if path is not None and not os.path.exists(path):
        raise LedgerUnreadable(f"ledger file {path} does not exist")
    engine = store_engine(location)
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table(charges_table.name)
    except SQLAlchemyError as exc:
        engine.dispose()
        cause = str(exc).splitlines()[0]
        raise LedgerUnreadable(f"cannot read the ledger at {location}: {cause}") from exc
    if not present:
        engine.dispose()
        raise LedgerUnreadable(f"{location} holds no budget ledger (no {charges_table.name} table)")
    return engine


def standing(engine: Engine, terms: PartnerTerms, now: datetime | None = None) -> Standing:
    """The partner's standing, computed as `PrivacyLedger.reserve` counts it."""
    now = now or datetime.now(UTC)
    at = micros(now)
    since = at - terms.period_days * MICROS_PER_DAY
    c = charges_table.c
    mine = c.partner == terms.name
    holding = c.state.in_((*CHARGED_STATES, RESERVED))
    with engine.connect() as conn:
        day = conn.execute(
            select(func.count(), func.min(c.admitted_us)).where(
                mine, c.admitted_us > at - MICROS_PER_DAY
            )
        ).one()
        sums = dict(
            conn.execute(
                select(c.state, func.coalesce(func.sum(c.nano_epsilon), 0))
                .where(mine, c.admitted_us > since, holding)
                .group_by(c.state)
            ).all()
        )
        oldest = conn.execute(
            select(c.admitted_us, c.nano_epsilon)
            .where(mine, c.admitted_us > since, holding, c.nano_epsilon > 0)
            .order_by(c.admitted_us)
            .limit(1)
        ).first()
        conn.rollback()
    window = terms.period_days * MICROS_PER_DAY
    return Standing(
        partner=terms.name,
        now=now,
        queries_today=int(day[0]),
        queries_per_day=terms.queries_per_day,
        next_query_frees=None if day[1] is None else utc_time(int(day[1]) + MICROS_PER_DAY),
        spent=sum(int(sums.get(s, 0)) for s in CHARGED_STATES) / NANO,
        reserved=int(sums.get(RESERVED, 0)) / NANO,
        budget=terms.epsilon_per_period,
        period_days=terms.period_days,
        next_charge_falls_out=None if oldest is None else utc_time(int(oldest[0]) + window),
        next_charge_epsilon=0.0 if oldest is None else int(oldest[1]) / NANO,
    )


def charged_between(
    engine: Engine, since: datetime | None, until: datetime | None
) -> dict[str, float]:
    """Epsilon charged (for good) per partner for queries admitted in [since, until)."""
    c = charges_table.c
    query = select(c.partner, func.coalesce(func.sum(c.nano_epsilon), 0)).where(
        c.state.in_(CHARGED_STATES)
    )
    if since is not None:
        query = query.where(c.admitted_us >= micros(since))
    if until is not None:
        query = query.where(c.admitted_us < micros(until))
    with engine.connect() as conn:
        rows = conn.execute(query.group_by(c.partner)).all()
        conn.rollback()
    return {str(partner): int(total) / NANO for partner, total in rows}


def standings(engine: Engine, policy: Policy, now: datetime | None = None) -> list[Standing]:
    """Every partner of the policy, by name."""
    return [standing(engine, policy.partners[name], now) for name in sorted(policy.partners)]
