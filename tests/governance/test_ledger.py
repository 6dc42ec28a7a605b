"""Budget ledger on SQLite and PostgreSQL: two-phase charges, retries, cache, concurrency."""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.ledger import (
    BudgetExhausted,
    PrivacyLedger,
    QueryIdConflict,
    RateLimited,
    ReservationNotFound,
)
from node.policy import Policy, load_policy
from tests.governance.conftest import POLICY_TOML

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # its 30-day period: 2025-02-11 .. 2025-03-12
PERIOD_START = date(2025, 2, 11)


@pytest.fixture
def ledger(ledger_url: str, policy: Policy) -> Iterator[PrivacyLedger]:
    opened = PrivacyLedger.open(ledger_url, policy)
    yield opened
    opened.close()


def test_budget_is_exhausted_with_a_message_naming_partner_budget_and_spend(
    ledger: PrivacyLedger,
) -> None:
    for i in range(3):
        ledger.reserve("brand_x", f"q{i}", 0.5, NOW)
        ledger.commit(f"q{i}", f'{{"n": {i}}}', f"key{i}")
    held = ledger.reserve("brand_x", "q3", 0.5, NOW)
    assert (held.period_start, held.period_end) == (PERIOD_START, date(2025, 3, 12))
    with pytest.raises(BudgetExhausted) as caught:
        ledger.reserve("brand_x", "q4", 0.5, NOW)
    message = str(caught.value)
    assert "privacy budget exhausted for brand_x" in message
    assert "epsilon_per_period 2.0" in message and "spent 1.5" in message
    assert "reserved 0.5" in message
    decision = caught.value.decision
    assert not decision.allowed and decision.code == "RESOURCE_EXHAUSTED"
    assert decision.rule == "partners.brand_x.epsilon_per_period"
    usage = ledger.usage("brand_x", NOW)
    assert (usage.spent, usage.reserved, usage.budget) == (1.5, 0.5, 2.0)


def test_epsilon_sums_are_exact(ledger: PrivacyLedger, policy: Policy) -> None:
    for i in range(5):  # 0.4 * 5 == 2.0 exactly, which float addition would overshoot
        ledger.reserve("brand_x", f"q{i}", 0.4, NOW)
    assert ledger.usage("brand_x", NOW).reserved == 2.0


def test_rate_limit_per_utc_day(ledger: PrivacyLedger) -> None:
    for i in range(3):
        ledger.reserve("retailer_b", f"q{i}", 0.0, NOW)
    with pytest.raises(RateLimited) as caught:
        ledger.reserve("retailer_b", "q3", 0.0, NOW)
    assert "rate limit reached for retailer_b: queries_per_day 3" in str(caught.value)
    assert caught.value.decision.rule == "partners.retailer_b.queries_per_day"
    ledger.reserve("retailer_b", "q3", 0.0, NOW + timedelta(days=1))  # a new day


def test_cancel_refunds_budget_and_rate(ledger: PrivacyLedger) -> None:
    for i in range(4):
        ledger.reserve("brand_x", f"q{i}", 0.5, NOW)
    assert ledger.cancel("q1") is True
    assert ledger.cancel("q1") is False  # nothing left to release
    assert ledger.usage("brand_x", NOW).reserved == 1.5
    ledger.reserve("brand_x", "q4", 0.5, NOW)
    with pytest.raises(ReservationNotFound, match="q1"):
        ledger.commit("q1", "{}", "k1")


def test_retry_is_not_charged_twice(ledger: PrivacyLedger) -> None:
    first = ledger.reserve("brand_x", "q", 0.5, NOW)
    assert ledger.reserve("brand_x", "q", 0.5, NOW) == first
    assert ledger.usage("brand_x", NOW).reserved == 0.5
    assert ledger.usage("brand_x", NOW).queries_today == 1
    with pytest.raises(QueryIdConflict, match="brand_x"):
        ledger.reserve("retailer_b", "q", 0.5, NOW)
    with pytest.raises(QueryIdConflict, match="epsilon"):
        ledger.reserve("brand_x", "q", 0.25, NOW)
    assert ledger.commit("q", "A", "k") == "A"
    assert ledger.commit("q", "A", "k") == "A"  # commit retried: idempotent
    ledger.reserve("brand_x", "q", 0.5, NOW)  # reserve retried after commit: still one charge
    assert ledger.cancel("q") is False  # a released answer stays charged
    usage = ledger.usage("brand_x", NOW)
    assert (usage.spent, usage.reserved) == (0.5, 0.0)


def test_retry_after_cancel_reserves_again(ledger: PrivacyLedger) -> None:
    ledger.reserve("brand_x", "q", 0.5, NOW)
    ledger.cancel("q")
    ledger.reserve("brand_x", "q", 0.5, NOW)
    assert ledger.usage("brand_x", NOW).reserved == 0.5


def test_commit_persists_and_identical_query_returns_cached_answer(
    ledger_url: str, policy: Policy
) -> None:
    ledger = PrivacyLedger.open(ledger_url, policy)
    ledger.reserve("brand_x", "q1", 0.5, NOW)
    assert ledger.cached_answer("brand_x", "key") is None
    assert ledger.commit("q1", '{"all": 120}', "key") == '{"all": 120}'
    ledger.close()

    reopened = PrivacyLedger.open(ledger_url, policy)
    try:
        assert reopened.cached_answer("brand_x", "key") == '{"all": 120}'
        assert reopened.cached_answer("retailer_b", "key") is None  # per partner
        assert reopened.usage("brand_x", NOW).spent == 0.5
        # An identical query that raced past the cache check gets the first answer, uncharged.
        reopened.reserve("brand_x", "q2", 0.5, NOW)
        assert reopened.commit("q2", '{"all": 117}', "key") == '{"all": 120}'
        usage = reopened.usage("brand_x", NOW)
        assert (usage.spent, usage.reserved) == (0.5, 0.0)
    finally:
        reopened.close()


def test_period_rollover(ledger: PrivacyLedger) -> None:
    last_day = datetime(2025, 3, 12, 23, 59, tzinfo=UTC)
    for i in range(4):
        ledger.reserve("brand_x", f"q{i}", 0.5, last_day - timedelta(days=i))
        ledger.commit(f"q{i}", "{}", f"k{i}")
    with pytest.raises(BudgetExhausted):
        ledger.reserve("brand_x", "late", 0.5, last_day)
    next_period = ledger.reserve("brand_x", "late", 0.5, last_day + timedelta(minutes=1))
    assert next_period.period_start == date(2025, 3, 13)
    assert ledger.usage("brand_x", last_day + timedelta(minutes=1)).spent == 0.0


def test_naive_time_is_refused(ledger: PrivacyLedger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.reserve("brand_x", "q", 0.5, datetime(2025, 3, 10))


def test_concurrent_threads_never_overspend(ledger: PrivacyLedger) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            ledger.reserve("brand_x", f"t{i}", 0.5, NOW)
            outcomes.append("held")
        except BudgetExhausted:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held"] * 4 + ["refused"] * 4
    assert ledger.usage("brand_x", NOW).reserved == 2.0


def _reserve_many(
    path: str, policy_path: str, prefix: str, results: multiprocessing.Queue[int]
) -> None:
    held = -100  # reported when anything but BudgetExhausted goes wrong
    try:
        ledger = PrivacyLedger.open(path, load_policy(Path(policy_path)))
        held = 0
        for i in range(6):
            try:
                ledger.reserve("brand_x", f"{prefix}{i}", 0.25, NOW)
                held += 1
            except BudgetExhausted:
                pass
        ledger.close()
    finally:
        results.put(held)


def test_two_processes_on_sqlite_never_overspend(tmp_path: Path, policy: Policy) -> None:
    path = str(tmp_path / "ledger.db")
    PrivacyLedger.open(path, policy).close()  # create the schema once
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = context.Queue()
    policy_path = str(policy.path)
    workers = [
        context.Process(target=_reserve_many, args=(path, policy_path, p, results))
        for p in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    held = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sum(held) == 8  # 2.0 / 0.25 out of 12 attempts
    ledger = PrivacyLedger.open(path, policy)
    assert ledger.usage("brand_x", NOW).reserved == 2.0
    ledger.close()


operations = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "commit", "cancel"]),
        st.integers(0, 5),
        st.sampled_from([0.25, 0.5, 1.0]),
    ),
    max_size=25,
)


@settings(max_examples=30, deadline=None)
@given(operations)
def test_ledger_matches_a_model_and_never_overspends(ops: list[tuple[str, int, float]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        policy_path = Path(folder) / "policy.toml"
        policy_path.write_text(POLICY_TOML)
        ledger = PrivacyLedger.open(str(Path(folder) / "ledger.db"), load_policy(policy_path))
        state: dict[str, tuple[str, float]] = {}  # query id -> (state, epsilon)
        try:
            for op, n, epsilon in ops:
                qid = f"q{n}"
                live = {k: v for k, v in state.items() if v[0] != "cancelled"}
                if op == "reserve":
                    known = state.get(qid)
                    if known is not None and known[1] != epsilon:
                        with pytest.raises(QueryIdConflict):
                            ledger.reserve("brand_x", qid, epsilon, NOW)
                    elif known is not None and known[0] != "cancelled":
                        ledger.reserve("brand_x", qid, epsilon, NOW)
                    elif len(live) >= 10:
                        with pytest.raises(RateLimited):
                            ledger.reserve("brand_x", qid, epsilon, NOW)
                    elif sum(e for _, e in live.values()) + epsilon > 2.0:
                        with pytest.raises(BudgetExhausted):
                            ledger.reserve("brand_x", qid, epsilon, NOW)
                    else:
                        ledger.reserve("brand_x", qid, epsilon, NOW)
                        state[qid] = ("reserved", epsilon)
                elif op == "commit":
                    if qid in live:
                        assert ledger.commit(qid, qid, f"key-{qid}") == qid
                        state[qid] = ("committed", state[qid][1])
                    else:
                        with pytest.raises(ReservationNotFound):
                            ledger.commit(qid, qid, f"key-{qid}")
                else:
                    assert ledger.cancel(qid) == (state.get(qid, ("", 0))[0] == "reserved")
                    if qid in state and state[qid][0] == "reserved":
                        state[qid] = ("cancelled", state[qid][1])
                usage = ledger.usage("brand_x", NOW)
                spent = sum(e for s, e in state.values() if s == "committed")
                held = sum(e for s, e in state.values() if s == "reserved")
                assert (usage.spent, usage.reserved) == (spent, held)
                assert usage.spent + usage.reserved <= 2.0
        finally:
            ledger.close()
