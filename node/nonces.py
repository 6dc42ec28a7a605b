"""Seen query nonces kept in the node's ledger database (SQLite or PostgreSQL), so a signed query
replayed after a node restart is refused until it expires; expired entries are pruned.

One row per (signer, nonce) with its expiry in microseconds since the epoch (UTC). `remember`
prunes and inserts in one transaction; the primary key decides between concurrent uses of one
nonce, from threads or processes (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the unique index).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    MetaData,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from runtime.storage import store_engine

_SETUP_LOCK_KEY: Final = 0x6759_6E6F_6E63_6573  # pg advisory lock id for schema set-up
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

metadata: Final = MetaData()
nonces_table: Final = Table(
    "seen_nonces",
    metadata,
    Column("signer", Text, primary_key=True),
    Column("nonce", Text, primary_key=True),  # hex
    Column("expires_us", BigInteger, nullable=False),  # microseconds since 1970-01-01 UTC
    Index("seen_nonces_expiry", "expires_us"),
)


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SqlNonces:
    """A ReplayGuard's NonceStore in a database that outlives the node process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_KEY})")
            metadata.create_all(conn, checkfirst=True)

    @classmethod
    def open(cls, url_or_path: str) -> SqlNonces:
        """The nonce store at an SQLite file path or a SQLAlchemy URL (the ledger's)."""
        return cls(store_engine(url_or_path))

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def remember(self, signer: str, nonce: bytes, expires_at: datetime, now: datetime) -> bool:
        """Keep (signer, nonce) until `expires_at`, pruning entries expired at `now`;
        False when it is kept already (a replay)."""
        table = nonces_table
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(table).where(table.c.expires_us <= _micros(now)))
                conn.execute(
                    insert(table).values(
                        signer=signer, nonce=nonce.hex(), expires_us=_micros(expires_at)
                    )
                )
        except IntegrityError:
            return False
        return True

    def __len__(self) -> int:
        with self._engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(nonces_table)).scalar_one()
        return int(count)
