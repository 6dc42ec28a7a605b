"""Tables of the audit log and the triggers that make them append-only in the database."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Double,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
)

metadata: Final = MetaData()

meta_table: Final = Table(
    "audit_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

records_table: Final = Table(
    "audit_records",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Column("query_id", Text, nullable=False, index=True),
    Column("time", Text, nullable=False, index=True),
    Column("party", Text, nullable=False),
    Column("requester", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("parties", Text, nullable=False),
    Column("attributes", Text, nullable=False),
    Column("decision", Text, nullable=False),
    Column("rule", Text, nullable=True),
    Column("released", Text, nullable=False),
    Column("suppressed", BigInteger, nullable=False),
    Column("epsilon", Double, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("error", Text, nullable=True),
    Column("witnessed", Text, nullable=True),  # peers' signed heads (JSON); NULL when none
)

checkpoints_table: Final = Table(
    "audit_checkpoints",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("hash", Text, nullable=False),
    Column("party", Text, nullable=False),
    Column("signed_at", Text, nullable=False),
    Column("signature", Text, nullable=False),
)

APPEND_ONLY_TABLES: Final = ("audit_meta", "audit_records", "audit_checkpoints")


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                f"BEFORE {operation} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
            )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "  # "%%" because psycopg reads "%" as a placeholder
        "RAISE EXCEPTION '%% is append-only: %% refused', TG_TABLE_NAME, TG_OP; "
        "END $$"
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
        statements.append(
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )
    return statements


def add_missing_columns(conn: Connection) -> None:
    """Upgrade a log created before peers' heads were kept: add the `witnessed` column."""
    present = {column["name"] for column in inspect(conn).get_columns("audit_records")}
    if "witnessed" not in present:
        conn.exec_driver_sql("ALTER TABLE audit_records ADD COLUMN witnessed TEXT")


def create_schema(conn: Connection) -> None:
    """Create the tables and append-only triggers if absent (caller holds the setup lock)."""
    metadata.create_all(conn)
    dialect = conn.dialect.name
    statements = _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers()
    for statement in statements:
        conn.exec_driver_sql(statement)
