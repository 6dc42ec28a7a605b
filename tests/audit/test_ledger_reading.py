"""The ledger's read side on SQLite and PostgreSQL: what each admitted query asked survives for
the restart's log, and a partner's standing is what the ledger itself counts at admission."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from node.ledger import BudgetExhausted, PrivacyLedger
from node.ledger_view import LedgerUnreadable, open_ledger_engine, standing
from node.policy import load_policy
from tests.audit.conftest import T0, Backend

POLICY = """
[defaults]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 10
min_counterparty_set = 10
queries_per_day = 5

[partners.brand]
epsilon_per_query = 0.5
epsilon_per_period = 1.5
period_days = 2
"""


def test_admissions_are_noted_once_and_read_back(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY)
    ledger = PrivacyLedger.open(backend.url, load_policy(tmp_path / "policy.toml"))
    try:
        ledger.admissions.note("q1", "profile", ("brand", "retailer_a"), ("age_band",))
        ledger.admissions.note("q1", "overlap", (), ())  # a retry keeps the first note
        assert ledger.admissions.get("q1") == ("profile", ("brand", "retailer_a"), ("age_band",))
        assert ledger.admissions.get("q2") is None
    finally:
        ledger.close()


def test_standing_is_what_the_ledger_counts_and_the_window_frees(
    backend: Backend, tmp_path: Path
) -> None:
    (tmp_path / "policy.toml").write_text(POLICY)
    policy = load_policy(tmp_path / "policy.toml")
    ledger = PrivacyLedger.open(backend.url, policy)
    try:
        ledger.reserve("brand", "a", 0.5, T0)
        ledger.spend("a")
        ledger.reserve("brand", "b", 0.5, T0 + timedelta(hours=30))
        ledger.fail("b")  # refunded, still counted
        ledger.reserve("brand", "c", 0.5, T0 + timedelta(hours=40))  # held
        now = T0 + timedelta(hours=41)
        engine = open_ledger_engine(backend.url)
        try:
            shown = standing(engine, policy.partners["brand"], now)
        finally:
            engine.dispose()
        usage = ledger.usage("brand", now)
        assert (shown.queries_today, shown.spent, shown.reserved) == (
            usage.queries_today, usage.spent, usage.reserved,
        )  # fmt: skip
        assert (shown.queries_today, shown.spent, shown.reserved, shown.left) == (2, 0.5, 0.5, 0.5)
        assert shown.next_query_frees == T0 + timedelta(hours=54)  # b leaves the 24 hours
        assert shown.next_charge_falls_out == T0 + timedelta(days=2)  # a leaves the window
        assert shown.next_charge_epsilon == 0.5
        # what it says is left is exactly what the ledger admits
        ledger.reserve("brand", "d", 0.5, now)
        with pytest.raises(BudgetExhausted):
            ledger.reserve("brand", "e", 0.5, now)
    finally:
        ledger.close()


def test_a_missing_ledger_is_named(tmp_path: Path) -> None:
    with pytest.raises(LedgerUnreadable, match=r"nope\.db does not exist"):
        open_ledger_engine(str(tmp_path / "nope.db"))
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(LedgerUnreadable, match="holds no budget ledger"):
        open_ledger_engine(str(tmp_path / "empty.db"))
