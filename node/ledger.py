"""The privacy-budget and rate ledger: irrevocable charges, rolling windows, cached answers.

Contract (one row per admitted query id; DESIGN 7):
    cached = ledger.cached_answer(partner, query_key, now)  # identical query answered before?
    if cached is not None: reserve(..., cached=True), release cached  # counted, nothing charged
    ledger.reserve(partner, query_id, epsilon, now)          # BudgetExhausted / RateLimited
    ... ledger.spend(query_id) the moment this node's contribution leaves it (irrevocable)
    release ledger.commit(query_id, answer, query_key)       # released: charged and cached
    or ledger.fail(query_id)                                 # ended without a release

`reserve` counts the query against `queries_per_day` for good: whatever happens after (failed,
cancelled, aborted, expired, node restarted), the query stays counted. It holds `epsilon` until
`spend` turns it into a charge that nothing refunds; `fail` before `spend` refunds the epsilon
(never the query count), `fail` after it keeps the charge. `commit` charges (if not yet spent)
and caches the answer. Reserving again for a live query id (a retry) returns the existing
reservation without counting twice; a finished query id is never reused. `commit` returns the
answer to release: normally the one given, but when an identical query (same partner and
query_key) committed first within the budget window, the earlier answer is returned (this one is
not cached, and charged only if it was already spent), so one query never gets two independently
noised answers. Committing twice is idempotent; `fail` after `commit` changes nothing.

Windows roll: `queries_per_day` counts the queries admitted in the last 24 hours, and the budget
`epsilon_per_period` covers the epsilon held or charged for queries admitted in the last
`period_days` x 24 hours; a cached answer is reused only while its charge is inside that window.
Epsilon is stored as integer nano-epsilon (charges rounded up, budgets rounded down), so sums are
exact. Writes run in one transaction under a lock (`BEGIN IMMEDIATE` on SQLite, `LOCK TABLE ...
SHARE ROW EXCLUSIVE` on PostgreSQL): concurrent reserves never overspend. Also: node `secret`s.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, select

from model.errors import LimitReached
from node.ledger_admissions import AdmissionNotes
from node.ledger_schema import (
    CACHED,
    CANCELLED,
    CHARGED,
    CHARGED_STATES,
    COMMITTED,
    MICROS_PER_DAY,
    NANO,
    RESERVED,
    SPENT,
    add_admission_times,
    charges_table,
    metadata,
    micros,
    nano_epsilon,
    secrets_table,
    utc_time,
)
from node.policy import Decision, Policy
from runtime.storage import store_engine

_EPOCH: Final = date(1970, 1, 1)
_SETUP_LOCK_KEY: Final = 0x6759_6C65_6467_6572  # pg advisory lock id for schema set-up
_LIVE: Final = (RESERVED, SPENT)
_HOLDING: Final = (RESERVED, SPENT, COMMITTED, CHARGED)  # epsilon held or charged


class LedgerError(Exception):
    """Base of the ledger's errors."""


class LedgerRefusal(LedgerError):
    """A query refused by the rate limit or the privacy budget (a `LimitReached`)."""

    def __init__(self, partner: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.partner = partner
        self.rule = rule

    @property
    def decision(self) -> Decision:
        """The refusal as a policy decision, for the audit record and the gRPC status."""
        return Decision.refuse(self.rule, str(self), LimitReached)


class BudgetExhausted(LedgerRefusal):
    """The partner's privacy budget over the rolling period cannot pay for this query."""


class RateLimited(LedgerRefusal):
    """The partner has used its queries of the last 24 hours."""


class ReservationNotFound(LedgerError, LookupError):
    """No reservation for the query id (never reserved, or ended without a release)."""


class QueryIdConflict(LedgerError, ValueError):
    """A query id reused: for a different partner or epsilon, or after the query ended."""


@dataclass(frozen=True)
class Reservation:
    """Budget held and one query counted for `query_id`, admitted at `admitted`."""

    query_id: str
    partner: str
    epsilon: float
    admitted: datetime
    window_start: datetime  # the budget window is (window_start, admitted]


@dataclass(frozen=True)
class Usage:
    """A partner's standing at `now`: queries in the last 24 h, epsilon in the rolling period."""

    partner: str
    queries_today: int
    spent: float
    reserved: float
    budget: float


class PrivacyLedger:
    """Rate and privacy-budget accounting for one node, with the answers it released."""

    def __init__(self, engine: Engine, policy: Policy) -> None:
        self._engine = engine
        self.policy = policy  # replace to apply a reloaded policy
        self.admissions = AdmissionNotes(engine)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_KEY})")
            metadata.create_all(conn, checkfirst=True)
            add_admission_times(conn)

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

    def _locked_charge(self, conn: Connection, query_id: str) -> Any:
        """The table locked, then the state and nano-epsilon of `query_id`'s charge, if any."""
        self._lock(conn)
        c = charges_table.c
        return conn.execute(select(c.state, c.nano_epsilon).where(c.query_id == query_id)).first()

    def reserve(
        self,
        partner: str,
        query_id: str,
        epsilon: float,
        now: datetime | None = None,
        cached: bool = False,
    ) -> Reservation:
        """Count the query and hold `epsilon` for it, or refuse (rate limit, budget). `cached`:
        the query is answered from the cache; it is counted and holds nothing (reserving it
        again uncached, when it must contribute afresh, holds the epsilon without a new count)."""
        terms = self.policy.terms(partner)
        now = now or datetime.now(UTC)
        at = micros(now)
        since = at - terms.period_days * MICROS_PER_DAY
        need = nano_epsilon(epsilon)
        reservation = Reservation(query_id, partner, epsilon, now, utc_time(since))
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            row = conn.execute(select(charges_table).where(c.query_id == query_id)).first()
            if row is not None:
                if row.partner != partner or (row.state != CACHED and row.nano_epsilon != need):
                    raise QueryIdConflict(
                        f"query id {query_id} is already reserved for partner {row.partner} "
                        f"with epsilon {row.nano_epsilon / NANO}; refusing to reuse it for "
                        f"{partner} with epsilon {epsilon}"
                    )
                if row.state in _LIVE or (row.state == CACHED and cached):  # a retry
                    return reservation  # already held and counted, never twice
                if row.state != CACHED:
                    raise QueryIdConflict(
                        f"query id {query_id} of {partner} already ended ({row.state}); "
                        "a new query needs a new query id"
                    )
            recent = conn.execute(
                select(func.count())
                .select_from(charges_table)
                .where(c.partner == partner, c.admitted_us > at - MICROS_PER_DAY)
            ).scalar_one()
            if row is None and recent >= terms.queries_per_day:
                raise RateLimited(
                    partner,
                    f"partners.{partner}.queries_per_day",
                    f"rate limit reached for {partner}: queries_per_day {terms.queries_per_day}, "
                    f"{recent} queries admitted in the 24 hours before {now.isoformat()} "
                    "(failed ones included)",
                )
            spent, held = self._window_sums(conn, partner, since)
            budget = nano_epsilon(terms.epsilon_per_period, round_up=False)
            if not cached and spent + held + need > budget:
                raise BudgetExhausted(
                    partner,
                    f"partners.{partner}.epsilon_per_period",
                    f"privacy budget exhausted for {partner}: epsilon_per_period "
                    f"{terms.epsilon_per_period} over the last {terms.period_days} days, spent "
                    f"{spent / NANO:g}, reserved {held / NANO:g}, this query needs {epsilon:g}",
                )
            values = {
                "nano_epsilon": 0 if cached else need,
                "state": CACHED if cached else RESERVED,
                "updated_at": datetime.now(UTC).isoformat(),
            }
            if row is not None:  # answered from the cache, now contributing afresh
                conn.execute(charges_table.update().where(c.query_id == query_id).values(values))
            else:
                day = (now.astimezone(UTC).date() - _EPOCH).days
                conn.execute(
                    charges_table.insert().values(
                        query_id=query_id, partner=partner, day=day, admitted_us=at, **values
                    )
                )
        return reservation

    def spend(self, query_id: str) -> float:
        """The query's contribution leaves this node: charge its epsilon irrevocably (idempotent).
        Returns the epsilon charged; ReservationNotFound when it is not live or committed."""
        c = charges_table.c
        with self._engine.begin() as conn:
            row = self._locked_charge(conn, query_id)
            if row is None or row.state in (CANCELLED, CACHED):
                raise ReservationNotFound(
                    f"no reservation for query {query_id} to charge (never reserved, or ended)"
                )
            if row.state == RESERVED:
                conn.execute(
                    charges_table.update()
                    .where(c.query_id == query_id)
                    .values(state=SPENT, updated_at=datetime.now(UTC).isoformat())
                )
            return int(row.nano_epsilon) / NANO

    def commit(
        self, query_id: str, answer_json: str, query_key: str, now: datetime | None = None
    ) -> str:
        """Charge the query and cache its answer; returns the answer to release."""
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            row = conn.execute(select(charges_table).where(c.query_id == query_id)).first()
            if row is None or row.state in (CANCELLED, CHARGED, CACHED):
                raise ReservationNotFound(
                    f"no reservation for query {query_id} to commit (never reserved, or ended)"
                )
            if row.state == COMMITTED:
                return str(row.answer)
            since = self._window_start(str(row.partner), now)
            earlier = conn.execute(
                select(c.answer)
                .where(
                    c.partner == row.partner,
                    c.query_key == query_key,
                    c.state == COMMITTED,
                    c.admitted_us > since,
                )
                .limit(1)
            ).first()
            stamp = datetime.now(UTC).isoformat()
            if earlier is not None:  # an identical query won the race: release its answer
                ended = CHARGED if row.state == SPENT else CANCELLED
                conn.execute(
                    charges_table.update()
                    .where(c.query_id == query_id)
                    .values(state=ended, updated_at=stamp)
                )
                return str(earlier.answer)
            conn.execute(
                charges_table.update()
                .where(c.query_id == query_id)
                .values(state=COMMITTED, query_key=query_key, answer=answer_json, updated_at=stamp)
            )
        return answer_json

    def fail(self, query_id: str) -> float:
        """End a query without a release: refund its epsilon unless it was spent (then it stays
        charged); the query stays counted. Returns the epsilon charged (0 when none)."""
        c = charges_table.c
        with self._engine.begin() as conn:
            row = self._locked_charge(conn, query_id)
            if row is None or row.state == CANCELLED:
                return 0.0
            ended = {RESERVED: CANCELLED, SPENT: CHARGED}.get(str(row.state))
            if ended is not None:
                conn.execute(
                    charges_table.update()
                    .where(c.query_id == query_id)
                    .values(state=ended, updated_at=datetime.now(UTC).isoformat())
                )
            return 0.0 if ended == CANCELLED else int(row.nano_epsilon) / NANO

    def recover(self) -> list[tuple[str, str, float]]:
        """At start-up, end every query a previous run of this node left open (it was killed
        mid-query; no session survives a restart): refunded when its contribution had not left,
        charged when it had. (query id, partner, epsilon charged) of each."""
        c = charges_table.c
        with self._engine.begin() as conn:
            self._lock(conn)
            open_rows = conn.execute(
                select(c.query_id, c.partner, c.state, c.nano_epsilon)
                .where(c.state.in_(_LIVE))
                .order_by(c.query_id)
            ).all()
            stamp = datetime.now(UTC).isoformat()
            for state, ended in ((RESERVED, CANCELLED), (SPENT, CHARGED)):
                conn.execute(
                    charges_table.update()
                    .where(c.state == state)
                    .values(state=ended, updated_at=stamp)
                )
        return [
            (str(r.query_id), str(r.partner), 0.0 if r.state == RESERVED else r.nano_epsilon / NANO)
            for r in open_rows
        ]

    def cached_answer(
        self, partner: str, query_key: str, now: datetime | None = None
    ) -> str | None:
        """The answer released to `partner` for an identical query within the budget window."""
        since = self._window_start(partner, now)
        c = charges_table.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(c.answer)
                .where(
                    c.partner == partner,
                    c.query_key == query_key,
                    c.state == COMMITTED,
                    c.admitted_us > since,
                )
                .limit(1)
            ).first()
            conn.rollback()
        return None if row is None else str(row.answer)

    def usage(self, partner: str, now: datetime | None = None) -> Usage:
        """Queries in the last 24 hours, epsilon charged and held in the rolling period."""
        terms = self.policy.terms(partner)
        at = micros(now or datetime.now(UTC))
        c = charges_table.c
        with self._engine.connect() as conn:
            recent = conn.execute(
                select(func.count())
                .select_from(charges_table)
                .where(c.partner == partner, c.admitted_us > at - MICROS_PER_DAY)
            ).scalar_one()
            spent, held = self._window_sums(conn, partner, at - terms.period_days * MICROS_PER_DAY)
            conn.rollback()
        return Usage(partner, int(recent), spent / NANO, held / NANO, terms.epsilon_per_period)

    def secret(self, name: str) -> bytes:
        """A 32-byte random secret of this node, made on first use and kept in the ledger."""
        c = secrets_table.c
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE ledger_secrets IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute(select(c.value).where(c.name == name)).first()
            if row is not None:
                return bytes(row.value)
            value = secrets.token_bytes(32)
            conn.execute(secrets_table.insert().values(name=name, value=value))
            return value

    def _window_start(self, partner: str, now: datetime | None) -> int:
        days = self.policy.partners[partner].period_days if partner in self.policy.partners else 0
        return micros(now or datetime.now(UTC)) - days * MICROS_PER_DAY

    @staticmethod
    def _window_sums(conn: Connection, partner: str, since: int) -> tuple[int, int]:
        """(charged, held) nano-epsilon of the partner's queries admitted after `since`."""
        c = charges_table.c
        rows = conn.execute(
            select(c.state, func.coalesce(func.sum(c.nano_epsilon), 0))
            .where(c.partner == partner, c.admitted_us > since, c.state.in_(_HOLDING))
            .group_by(c.state)
        ).all()
        sums = {state: int(total) for state, total in rows}
        return sum(sums.get(s, 0) for s in CHARGED_STATES), sums.get(RESERVED, 0)
