"""The ledger's tables and query states; ledgers from before rolling windows migrated."""

from __future__ import annotations

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

MICROS_PER_DAY: Final = 86_400 * 10**6
RESERVED: Final = "reserved"  # admitted; epsilon held, refundable
SPENT: Final = "spent"  # the node's contribution left: epsilon charged for good; query open
COMMITTED: Final = "committed"  # released: charged, answer cached
CHARGED: Final = "charged"  # ended without a release after the contribution left: charged
CANCELLED: Final = "cancelled"  # ended before the contribution left: epsilon refunded

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
