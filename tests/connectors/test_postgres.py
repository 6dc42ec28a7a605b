"""The SQL source against a real PostgreSQL server, one uniquely named table per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors import (
    ColumnKind,
    IdType,
    NormalisationProfile,
    SourceSpec,
    load_members,
    open_source,
)

from .conftest import email_oracle

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
pytestmark = pytest.mark.postgres


@pytest.fixture
def members_table(members: pd.DataFrame) -> Iterator[str]:
    engine = sa.create_engine(POSTGRES_URL)
    name = f"gy_members_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as connection:
            members.to_sql(name, connection, index=False)
    except sa.exc.OperationalError as error:
        engine.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable: {error.orig}")
    try:
        yield name
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.mark.parametrize("chunk_rows", [1_000, 37])
def test_postgres_table_matches_oracle(
    members: pd.DataFrame, members_table: str, chunk_rows: int
) -> None:
    source = open_source(SourceSpec(kind="sql", url=POSTGRES_URL, table=members_table))
    assert source.columns() == ["email", "member_no", "city"]
    table = load_members(
        source,
        "email",
        ColumnKind.EMAIL,
        IdType.EMAIL,
        NormalisationProfile(),
        ["city"],
        chunk_rows,
    )
    elements, cities = email_oracle(members)
    assert (list(table.elements), table.attributes["city"]) == (elements, cities)


def test_postgres_query_source(members: pd.DataFrame, members_table: str) -> None:
    query = f"SELECT email, city FROM \"{members_table}\" WHERE city = 'Shenzhen'"
    source = open_source(SourceSpec(kind="sql", url=POSTGRES_URL, query=query))
    assert source.columns() == ["email", "city"]
    chunks = list(source.iter_chunks(["email"], 11))
    got = [e for chunk in chunks for e in chunk["email"]]
    expected = members.loc[members["city"] == "Shenzhen", "email"]
    assert got == [None if pd.isna(e) else e for e in expected]
