"""Statements kept in a database, one per agreement and period.

SQLAlchemy: an SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import json
import os

from sqlalchemy import Column, MetaData, String, Table, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from runtime.closing import ClosedOnExit
from runtime.storage import sqlite_path, store_engine
from settlement.agreement import canonical
from settlement.statement import Statement, StatementError, statement_from_json

_METADATA = MetaData()
STATEMENTS = Table(
    "settlement_statements",
    _METADATA,
    Column("id", String(16), primary_key=True),
    Column("agreement_hash", String(64), nullable=False),
    Column("agreement", Text, nullable=False),
    Column("period", String(7), nullable=False),
    Column("signer", Text, nullable=False),
    Column("issued_at", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("signature", Text, nullable=False),
    UniqueConstraint("agreement_hash", "period", name="one_statement_per_period"),
)


class StatementStore(ClosedOnExit):
    """The statements database; `url_or_path` is a file path (SQLite) or a SQLAlchemy URL."""

    def __init__(self, url_or_path: str, create: bool = True) -> None:
        """Open the database, creating the file and table when `create` (a reader passes
        False, so a mistyped path is an error rather than a new empty database)."""
        self.where = url_or_path
        path = sqlite_path(url_or_path)
        if path is not None and not create and not os.path.exists(path):
            raise StatementError(f"statements database {url_or_path} does not exist")
        try:
            self._engine = store_engine(url_or_path)
        except SQLAlchemyError as error:
            raise StatementError(
                f"statements database {url_or_path!r} is not a file path or SQLAlchemy URL "
                f"(e.g. postgresql+psycopg://...): {error}"
            ) from None
        try:
            _METADATA.create_all(self._engine)
        except SQLAlchemyError as error:
            self._engine.dispose()
            reason = getattr(error, "orig", None) or error
            raise StatementError(
                f"statements database {url_or_path} cannot be opened: {reason}"
            ) from None

    def add(self, statement: Statement) -> None:
        """Keep `statement`; StatementError when its agreement already has one for the period."""
        body = statement.body
        earlier = self.find(body["agreement_hash"], statement.period)
        if earlier is not None:
            raise self._duplicate(statement, earlier.id)
        row = {
            "id": statement.id,
            "agreement_hash": body["agreement_hash"],
            "agreement": body["agreement"]["agreement"],
            "period": statement.period,
            "signer": statement.signer,
            "issued_at": body["issued_at"],
            "body": canonical(body).decode("utf-8"),
            "signature": statement.signature.hex(),
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(STATEMENTS.insert().values(**row))
        except IntegrityError:
            raise self._duplicate(statement, "written meanwhile") from None

    def _duplicate(self, statement: Statement, earlier: str) -> StatementError:
        name = statement.body["agreement"]["agreement"]
        return StatementError(
            f"{self.where}: agreement {name} already has a statement for {statement.period} "
            f"({earlier}); a settled period is not settled again"
        )

    def find(self, agreement_hash: str, period: str) -> Statement | None:
        """The statement of an agreement (by hash) for a period, or None."""
        query = select(STATEMENTS).where(
            STATEMENTS.c.agreement_hash == agreement_hash, STATEMENTS.c.period == period
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        document = {"statement": json.loads(row.body), "signature": row.signature}
        return statement_from_json(document, f"{self.where} statement {row.id}")

    def periods(self, agreement_hash: str) -> list[str]:
        """The periods settled under an agreement, in order."""
        query = (
            select(STATEMENTS.c.period)
            .where(STATEMENTS.c.agreement_hash == agreement_hash)
            .order_by(STATEMENTS.c.period)
        )
        with self._engine.connect() as conn:
            return [str(p) for p in conn.execute(query).scalars()]

    def close(self) -> None:
        self._engine.dispose()
