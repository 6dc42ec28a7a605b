"""The ledger's tables, query states and units; ledgers from before rolling windows migrated."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    inspect,
)

NANO: Final = 10**9  # epsilon is stored in integer nano-epsilon
MICROS_PER_DAY: Final = 86_400 * 10**6
RESERVED: Final = "reserved"  # admitted; epsilon held, refundable
SPENT: Final = "spent"  # the node's contribution left: epsilon charged for good; query open
COMMITTED: Final = "committed"  # released: charged, answer cached
CHARGED: Final = "charged"  # ended without a release after the contribution left: charged
CANCELLED: Final = "cancelled"  # ended before the contribution left: epsilon refunded
CACHED: Final = "cached"  # answered with the answer released before: counted, nothing charged
CHARGED_STATES: Final = (SPENT, COMMITTED, CHARGED)  # epsilon charged for good


def nano_epsilon(epsilon: float, round_up: bool = True) -> int:
    """Epsilon in exact integer units of 1e-9 (read as the decimal the float prints as)."""
    if not math.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon}")
    units = Fraction(repr(float(epsilon))) * NANO
    return math.ceil(units) if round_up else math.floor(units)


def micros(now: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware time."""
    if now.tzinfo is None:
        raise ValueError(f"ledger times must be timezone-aware, got naive {now.isoformat()}")
    delta = now.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**6 + delta.microseconds


def utc_time(micros: int) -> datetime:
    """The aware UTC time `micros` microseconds after 1970-01-01."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


metadata: Final = MetaData()
charges_table: Final = Table(
    "ledger_charges",
    metadata,
    Column("query_id", Text, primary_key=True),
    Column("partner", Text, nullable=False),
    Column("day", BigInteger, nullable=False),  # UTC days since 1970-01-01 (of admission)
    Column("nano_epsilon", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("query_key", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("updated_at", Text, nullable=False),
    Column("admitted_us", BigInteger, nullable=True),  # admission, microseconds since 1970 UTC
    Index("ledger_partner_day", "partner", "day"),
    Index("ledger_partner_key", "partner", "query_key"),
    Index("ledger_partner_admitted", "partner", "admitted_us"),
)
secrets_table: Final = Table(
    "ledger_secrets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", LargeBinary, nullable=False),
)
# what each admitted query asked (kind, parties and attributes as JSON lists), so a restarted
# node can log a query it was killed in the middle of with its kind and parties
admissions_table: Final = Table(
    "ledger_admissions",
    metadata,
    Column("query_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("parties", Text, nullable=False),
    Column("attributes", Text, nullable=False),
)


def add_admission_times(conn: Connection) -> None:
    """A ledger from before rolling windows: add `admitted_us`, dating each old row at the end
    of its UTC day (so an old charge stays in every window it could belong to)."""
    columns = {column["name"] for column in inspect(conn).get_columns("ledger_charges")}
    if "admitted_us" in columns:
        return
    conn.exec_driver_sql("ALTER TABLE ledger_charges ADD COLUMN admitted_us BIGINT")
    conn.exec_driver_sql(
        f"UPDATE ledger_charges SET admitted_us = (day + 1) * {MICROS_PER_DAY} - 1"
    )
    conn.exec_driver_sql(
        "CREATE INDEX ledger_partner_admitted ON ledger_charges (partner, admitted_us)"
    )
