"""Member tables and queries in any SQLAlchemy database, streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
import sqlalchemy as sa

from connectors.errors import SourceNotFound, SourceUnreadable
from connectors.source_spec import (
    DEFAULT_CHUNK_ROWS,
    SourceSpec,
    check_chunk_rows,
    distinct,
    mask_url,
    require_columns,
    unreadable,
)

_SUBQUERY_NAME = "gy_member_source"


class SqlSource:
    """A table (`schema.table` allowed) or a SELECT; values are the driver's Python objects."""

    def __init__(self, spec: SourceSpec) -> None:
        self._spec = spec
        self._engine: sa.Engine | None = None

    @property
    def spec(self) -> SourceSpec:
        return self._spec

    def columns(self) -> list[str]:
        engine = self._connectable()
        try:
            if self._spec.table is not None:
                schema, name = _split_table(self._spec.table)
                inspector = sa.inspect(engine)
                if not inspector.has_table(name, schema=schema):
                    raise SourceNotFound(self._spec.describe(), "no such table")
                return [str(c["name"]) for c in inspector.get_columns(name, schema=schema)]
            with engine.connect() as connection:
                probe = sa.select(sa.text("*")).select_from(
                    sa.text(f"({self._spec.query}) AS {_SUBQUERY_NAME}")
                )
                return [str(k) for k in connection.execute(probe.limit(0)).keys()]  # noqa: SIM118
        except sa.exc.SQLAlchemyError as error:
            raise self._unreadable(error) from error

    def iter_chunks(
        self, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[pd.DataFrame]:
        check_chunk_rows(chunk_rows)
        wanted = distinct(columns)
        available = self.columns()
        require_columns(self._spec.describe(), wanted, available, self._spec.discreet)
        selectable = self._selectable(available)
        statement = sa.select(*(selectable.c[c] for c in wanted))
        try:
            with self._connectable().connect() as connection:
                result = connection.execution_options(stream_results=True).execute(statement)
                for rows in result.partitions(chunk_rows):
                    yield _frame(rows, wanted)
        except sa.exc.SQLAlchemyError as error:
            raise self._unreadable(error) from error

    def _selectable(self, available: Sequence[str]) -> sa.TableClause | sa.Subquery:
        if self._spec.table is not None:
            schema, name = _split_table(self._spec.table)
            return sa.table(name, *(sa.column(c) for c in available), schema=schema)
        text = sa.text(self._spec.query or "").columns(*(sa.column(c) for c in available))
        return text.subquery(_SUBQUERY_NAME)

    def _connectable(self) -> sa.Engine:
        if self._engine is None:
            try:
                self._engine = sa.create_engine(self._spec.url or "")
            except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as error:
                reason = _scrub(str(error), self._spec) + _dialect_hint(self._spec.url or "")
                raise unreadable(self._spec, reason) from error
        return self._engine

    def _unreadable(self, error: sa.exc.SQLAlchemyError) -> SourceUnreadable:
        original = getattr(error, "orig", None)
        reason = str(original if original is not None else error).strip().splitlines()
        return unreadable(self._spec, _scrub(" ".join(reason), self._spec))


def _frame(rows: Sequence[sa.Row[object]], columns: Sequence[str]) -> pd.DataFrame:
    data = {c: pd.Series([row[i] for row in rows], dtype=object) for i, c in enumerate(columns)}
    return pd.DataFrame(data, columns=list(columns))


def _split_table(table: str) -> tuple[str | None, str]:
    schema, dot, name = table.rpartition(".")
    return (schema if dot else None), name


def _scrub(reason: str, spec: SourceSpec) -> str:
    """Remove the database password from a driver message, should one ever echo it."""
    try:
        password = sa.make_url(spec.url or "").password
    except sa.exc.ArgumentError:
        return reason.replace(spec.url or "\0", mask_url(spec.url or ""))
    if password:
        return reason.replace(str(password), "***")
    return reason


def _dialect_hint(url: str) -> str:
    """What to write instead of a PostgreSQL URL SQLAlchemy cannot load here."""
    scheme = url.partition("://")[0]
    if scheme.startswith("postgres"):
        return "; write the URL as postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
    return ""
