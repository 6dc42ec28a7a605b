"""Fixtures: a ledger database (SQLite file, PostgreSQL schema) and a policy with two partners."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from node.policy import Policy, load_policy

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

POLICY_TOML = """
[defaults]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 10
min_counterparty_set = 100
queries_per_day = 5

[partners.brand_x]
identities = ["brand-x.example.com", "brand_x"]
query_kinds = ["overlap", "profile"]
id_types = ["email", "phone"]
attributes = ["age_band", "gender"]
queries_per_day = 10
epsilon_per_period = 2.0
period_days = 30
epsilon_per_query = 0.5

[partners.retailer_b]
queries_per_day = 3
"""


def _postgres_unreachable() -> str | None:
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except Exception as exc:  # any failure to connect means: skip
        return f"PostgreSQL at 127.0.0.1:5432 unreachable: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY_TOML)
    return load_policy(path)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's ledger lives: an SQLite file path, or a fresh PostgreSQL schema's URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    reason = _postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    server = create_engine(PG_SERVER)
    with server.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()
