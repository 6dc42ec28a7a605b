"""The privacy-budget and rate ledger: two-phase charges and cached answers, SQLite or PostgreSQL.

Contract (one row per query id):
    cached = ledger.cached_answer(partner, query_key)     # identical query answered before?
    if cached is not None: release cached                  # no charge, no rate count, no noise
    reservation = ledger.reserve(partner, query_id, epsilon, now)  # BudgetExhausted/RateLimited
    try: answer = run the query and noise it
    except: ledger.cancel(query_id); raise                 # a failed query is never charged
    release ledger.commit(query_id, answer, query_key)      # charged and cached in one transaction

A reservation counts against the rate limit and the budget from `reserve` on; `commit` turns it
into a charge, `cancel` releases it. Reserving again for the same query id (a retry) returns the
existing reservation without charging twice. `commit` returns the answer to release: normally
the one given, but when an identical query (same partner and query_key) committed first, this
reservation is released uncharged and the earlier answer is returned, so one query never gets two
independently noised answers. Committing twice is idempotent; cancelling a committed query does
nothing (a released answer stays charged).

Limits come from the policy at reserve time: `queries_per_day` counts reserved and committed
queries of the UTC day; the budget `epsilon_per_period` is per fixed window of `period_days` UTC
days counted from 1970-01-01. Epsilon is stored as integer nano-epsilon (charges rounded up,
budgets rounded down), so sums are exact. Every write runs in one transaction under a lock
(`BEGIN IMMEDIATE` on SQLite, `LOCK TABLE ... SHARE ROW EXCLUSIVE` on PostgreSQL), so concurrent
reserves from threads or processes never overspend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    MetaData,
    Table,
    Text,
    func,
    select,
)

from node.policy import RESOURCE_EXHAUSTED, Decision, Policy
from node.storage import store_engine

NANO: Final = 10**9
_EPOCH: Final = date(1970, 1, 1)
_SETUP_LOCK_KEY: Final = 0x6759_6C65_6467_6572  # pg advisory lock id for schema set-up
RESERVED: Final = "reserved"
COMMITTED: Final = "committed"
CANCELLED: Final = "cancelled"
_LIVE: Final = (RESERVED, COMMITTED)

metadata: Final = MetaData()
charges_table: Final = Table(
    "ledger_charges",
    metadata,
    Column("query_id", Text, primary_key=True),
    Column("partner", Text, nullable=False),
    Column("day", BigInteger, nullable=False),  # UTC days since 1970-01-01
    Column("nano_epsilon", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("query_key", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("updated_at", Text, nullable=False),
    Index("ledger_partner_day", "partner", "day"),
    Index("ledger_partner_key", "partner", "query_key"),
)


class LedgerError(Exception):
    """Base of the ledger's errors."""


class LedgerRefusal(LedgerError):
    """A query refused by the rate limit or the privacy budget (RESOURCE_EXHAUSTED)."""

    code: Final = RESOURCE_EXHAUSTED

    def __init__(self, partner: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.partner = partner
        self.rule = rule

    @property
    def decision(self) -> Decision:
        """The refusal as a policy decision, for the audit record and the gRPC status."""
        return Decision.refuse(self.rule, str(self), self.code)


class BudgetExhausted(LedgerRefusal):
    """The partner's privacy budget for the current period cannot pay for this query."""


class RateLimited(LedgerRefusal):
    """The partner has used its queries for today."""


class ReservationNotFound(LedgerError, LookupError):
    """No live reservation for the query id (never reserved, or cancelled)."""


class QueryIdConflict(LedgerError, ValueError):
    """A query id reused for a different partner or a different epsilon."""


@dataclass(frozen=True)
class Reservation:
    """Budget and rate held for one query until it is committed or cancelled."""

    query_id: str
    partner: str
    epsilon: float
    day: date
    period_start: date
    period_end: date  # inclusive


@dataclass(frozen=True)
class Usage:
    """A partner's standing for the day and period containing `now`."""

    partner: str
    queries_today: int
    spent: float
    reserved: float
    budget: float


def nano_epsilon(epsilon: float, round_up: bool = True) -> int:
    """Epsilon in exact integer units of 1e-9 (read as the decimal the float prints as)."""
    if not math.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon}")
    units = Fraction(repr(float(epsilon))) * NANO
    return math.ceil(units) if round_up else math.floor(units)


def _day(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValueError(f"ledger times must be timezone-aware, got naive {now.isoformat()}")
    return (now.astimezone(UTC).date() - _EPOCH).days


def _as_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


class PrivacyLedger:
    """Rate and privacy-budget accounting for one node, with the answers it released."""

    def __init__(self, engine: Engine, policy: Policy) -> None:
        self._engine = engine
        self.policy = policy  # replace to apply a reloaded policy
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_KEY})")
            metadata.create_all(conn, checkfirst=True)

    @classmethod
    def open(cls, url_or_path: str, policy: Policy) -> PrivacyLedger:
        """A ledger in an SQLite file (a path) or a database given by SQLAlchemy URL."""
        return cls(store_engine(url_or_path), policy)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def _lock(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE ledger_charges IN SHARE ROW EXCLUSIVE MODE")

    def reserve(
        self, partner: str, query_id: str, epsilon: float, now: datetime | None = None
    ) -> Reservation:
        """Hold `epsilon` and one query of today's rate for `query_id`, or refuse."""
        terms = self.policy.terms(partner)
        day = _day(now or datetime.now(UTC))
        need = nano_epsilon(epsilon)
        start = day // terms.period_days * terms.period_days
        end = start + terms.period_days - 1
        reservation = Reservation(
            query_id, partner, epsilon, _as_date(day), _as_date(start), _as_date(end)
        )
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            row = conn.execute(select(charges_table).where(c.query_id == query_id)).first()
            if row is not None:
                if row.partner != partner or row.nano_epsilon != need:
                    raise QueryIdConflict(
                        f"query id {query_id} is already reserved for partner {row.partner} "
                        f"with epsilon {row.nano_epsilon / NANO}; refusing to reuse it for "
                        f"{partner} with epsilon {epsilon}"
                    )
                if row.state in _LIVE:  # a retry: already held, never charged twice
                    return reservation
            today = conn.execute(
                select(func.count())
                .select_from(charges_table)
                .where(c.partner == partner, c.day == day, c.state.in_(_LIVE))
            ).scalar_one()
            if today >= terms.queries_per_day:
                raise RateLimited(
                    partner,
                    f"partners.{partner}.queries_per_day",
                    f"rate limit reached for {partner}: queries_per_day {terms.queries_per_day}, "
                    f"{today} queries on {_as_date(day).isoformat()} (UTC)",
                )
            spent, held = self._period_sums(conn, partner, start, end)
            budget = nano_epsilon(terms.epsilon_per_period, round_up=False)
            if spent + held + need > budget:
                raise BudgetExhausted(
                    partner,
                    f"partners.{partner}.epsilon_per_period",
                    f"privacy budget exhausted for {partner}: epsilon_per_period "
                    f"{terms.epsilon_per_period} for {_as_date(start)}..{_as_date(end)}, spent "
                    f"{spent / NANO:g}, reserved {held / NANO:g}, this query needs {epsilon:g}",
                )
            values = {
                "partner": partner,
                "day": day,
                "nano_epsilon": need,
                "state": RESERVED,
                "query_key": None,
                "answer": None,
                "updated_at": datetime.now(UTC).isoformat(),
            }
            if row is None:
                conn.execute(charges_table.insert().values(query_id=query_id, **values))
            else:
                conn.execute(charges_table.update().where(c.query_id == query_id).values(**values))
        return reservation

    def commit(self, query_id: str, answer_json: str, query_key: str) -> str:
        """Charge the reservation and cache its answer; returns the answer to release."""
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            row = conn.execute(select(charges_table).where(c.query_id == query_id)).first()
            if row is None or row.state == CANCELLED:
                raise ReservationNotFound(
                    f"no reservation for query {query_id} to commit (never reserved, or cancelled)"
                )
            if row.state == COMMITTED:
                return str(row.answer)
            earlier = conn.execute(
                select(c.answer)
                .where(c.partner == row.partner, c.query_key == query_key, c.state == COMMITTED)
                .limit(1)
            ).first()
            now = datetime.now(UTC).isoformat()
            if earlier is not None:  # an identical query won the race: release its answer
                conn.execute(
                    charges_table.update()
                    .where(c.query_id == query_id)
                    .values(state=CANCELLED, updated_at=now)
                )
                return str(earlier.answer)
            conn.execute(
                charges_table.update()
                .where(c.query_id == query_id)
                .values(state=COMMITTED, query_key=query_key, answer=answer_json, updated_at=now)
            )
        return answer_json

    def cancel(self, query_id: str) -> bool:
        """Release a reservation (nothing charged); False when none was held or it is committed."""
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            result = conn.execute(
                charges_table.update()
                .where(c.query_id == query_id, c.state == RESERVED)
                .values(state=CANCELLED, updated_at=datetime.now(UTC).isoformat())
            )
            return bool(result.rowcount)

    def cancel_reserved(self) -> list[tuple[str, str]]:
        """Release every reservation still held (at start-up: a previous run of this node was
        killed mid-query, and no session survives a restart); (query id, partner) of each."""
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            held = [
                (str(row.query_id), str(row.partner))
                for row in conn.execute(
                    select(c.query_id, c.partner).where(c.state == RESERVED).order_by(c.query_id)
                )
            ]
            if held:
                conn.execute(
                    charges_table.update()
                    .where(c.state == RESERVED)
                    .values(state=CANCELLED, updated_at=datetime.now(UTC).isoformat())
                )
        return held

    def cached_answer(self, partner: str, query_key: str) -> str | None:
        """The answer released earlier to `partner` for an identical query, if any."""
        c = charges_table.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(c.answer)
                .where(c.partner == partner, c.query_key == query_key, c.state == COMMITTED)
                .limit(1)
            ).first()
            conn.rollback()
        return None if row is None else str(row.answer)

    def usage(self, partner: str, now: datetime | None = None) -> Usage:
        """Queries today, epsilon spent and reserved in the current period, and the budget."""
        terms = self.policy.terms(partner)
        day = _day(now or datetime.now(UTC))
        start = day // terms.period_days * terms.period_days
        c = charges_table.c
        with self._engine.connect() as conn:
            today = conn.execute(
                select(func.count())
                .select_from(charges_table)
                .where(c.partner == partner, c.day == day, c.state.in_(_LIVE))
            ).scalar_one()
            spent, held = self._period_sums(conn, partner, start, start + terms.period_days - 1)
            conn.rollback()
        return Usage(partner, int(today), spent / NANO, held / NANO, terms.epsilon_per_period)

    @staticmethod
    def _period_sums(conn: Connection, partner: str, start: int, end: int) -> tuple[int, int]:
        c = charges_table.c
        rows = conn.execute(
            select(c.state, func.coalesce(func.sum(c.nano_epsilon), 0))
            .where(c.partner == partner, c.day >= start, c.day <= end, c.state.in_(_LIVE))
            .group_by(c.state)
        ).all()
        sums = {state: int(total) for state, total in rows}
        return sums.get(COMMITTED, 0), sums.get(RESERVED, 0)
