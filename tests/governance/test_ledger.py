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
from sqlalchemy import create_engine

from model.errors import LimitReached
from node.ledger import (
    BudgetExhausted,
    PrivacyLedger,
    QueryIdConflict,
    RateLimited,
    ReservationNotFound,
)
from node.policy import Policy, load_policy
from tests.governance.conftest import POLICY_TOML

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


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
        ledger.commit(f"q{i}", f'{{"n": {i}}}', f"key{i}", NOW)
    held = ledger.reserve("brand_x", "q3", 0.5, NOW)
    assert (held.admitted, held.window_start) == (NOW, NOW - timedelta(days=30))
    with pytest.raises(BudgetExhausted) as caught:
        ledger.reserve("brand_x", "q4", 0.5, NOW)
    message = str(caught.value)
    assert "privacy budget exhausted for brand_x" in message
    assert "epsilon_per_period 2.0 over the last 30 days" in message and "spent 1.5" in message
    assert "reserved 0.5" in message
    decision = caught.value.decision
    assert not decision.allowed and decision.kind is LimitReached
    assert decision.rule == "partners.brand_x.epsilon_per_period"
    usage = ledger.usage("brand_x", NOW)
    assert (usage.spent, usage.reserved, usage.budget) == (1.5, 0.5, 2.0)


def test_epsilon_sums_are_exact(ledger: PrivacyLedger, policy: Policy) -> None:
    for i in range(5):  # 0.4 * 5 == 2.0 exactly, which float addition would overshoot
        ledger.reserve("brand_x", f"q{i}", 0.4, NOW)
    assert ledger.usage("brand_x", NOW).reserved == 2.0


def test_rate_limit_over_the_last_24_hours_counts_failed_queries(ledger: PrivacyLedger) -> None:
    ledger.reserve("retailer_b", "q0", 0.0, NOW)
    ledger.reserve("retailer_b", "q1", 0.0, NOW)
    assert ledger.fail("q1") == 0.0  # failed before anything left: still counted
    ledger.reserve("retailer_b", "q2", 0.0, NOW + timedelta(hours=1))
    with pytest.raises(RateLimited) as caught:
        ledger.reserve("retailer_b", "q3", 0.0, NOW + timedelta(hours=23, minutes=59))
    assert "rate limit reached for retailer_b: queries_per_day 3" in str(caught.value)
    assert caught.value.decision.rule == "partners.retailer_b.queries_per_day"
    # rolling: not the next UTC day at midnight, but 24 hours after the first two
    with pytest.raises(RateLimited):
        ledger.reserve("retailer_b", "q3", 0.0, datetime(2025, 3, 11, 0, 1, tzinfo=UTC))
    ledger.reserve("retailer_b", "q3", 0.0, NOW + timedelta(hours=24))
    assert ledger.usage("retailer_b", NOW + timedelta(hours=24)).queries_today == 2


def test_fail_refunds_epsilon_only_before_it_is_spent(ledger: PrivacyLedger) -> None:
    for i in range(4):
        ledger.reserve("brand_x", f"q{i}", 0.5, NOW)
    assert ledger.fail("q1") == 0.0  # nothing had left: refunded
    assert ledger.fail("q1") == 0.0  # nothing left to release
    assert ledger.spend("q2") == 0.5
    assert ledger.spend("q2") == 0.5  # idempotent
    assert ledger.fail("q2") == 0.5  # the contribution had left: stays charged
    usage = ledger.usage("brand_x", NOW)
    assert (usage.spent, usage.reserved, usage.queries_today) == (0.5, 1.0, 4)
    ledger.reserve("brand_x", "q4", 0.5, NOW)
    with pytest.raises(BudgetExhausted):
        ledger.reserve("brand_x", "q5", 0.5, NOW)
    with pytest.raises(ReservationNotFound, match="q1"):
        ledger.commit("q1", "{}", "k1")
    with pytest.raises(ReservationNotFound, match="q1"):
        ledger.spend("q1")


def test_recover_refunds_held_and_keeps_spent(ledger: PrivacyLedger) -> None:
    ledger.reserve("brand_x", "held", 0.5, NOW)
    ledger.reserve("brand_x", "spent", 0.5, NOW)
    ledger.spend("spent")
    assert ledger.recover() == [("held", "brand_x", 0.0), ("spent", "brand_x", 0.5)]
    assert ledger.recover() == []
    usage = ledger.usage("brand_x", NOW)
    assert (usage.spent, usage.reserved, usage.queries_today) == (0.5, 0.0, 2)


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
    assert ledger.fail("q") == 0.5  # a released answer stays charged
    usage = ledger.usage("brand_x", NOW)
    assert (usage.spent, usage.reserved) == (0.5, 0.0)


def test_a_cached_repeat_counts_and_holds_nothing(ledger: PrivacyLedger) -> None:
    """An identical repeat answered from the cache still counts toward queries_per_day; if it
    must contribute afresh after all, it holds its epsilon without being counted twice."""
    ledger.reserve("retailer_b", "first", 0.5, NOW)
    ledger.reserve("retailer_b", "repeat", 0.5, NOW, cached=True)
    ledger.reserve("retailer_b", "repeat", 0.5, NOW, cached=True)  # a retry: counted once
    usage = ledger.usage("retailer_b", NOW)
    assert (usage.queries_today, usage.reserved) == (2, 0.5)
    with pytest.raises(ReservationNotFound):
        ledger.spend("repeat")  # a cached answer has nothing to charge
    assert ledger.fail("repeat") == 0.0
    ledger.reserve("retailer_b", "afresh", 0.5, NOW, cached=True)
    ledger.reserve("retailer_b", "afresh", 0.5, NOW)  # contributes afresh: held, not recounted
    assert ledger.spend("afresh") == 0.5
    usage = ledger.usage("retailer_b", NOW)
    assert (usage.queries_today, usage.spent, usage.reserved) == (3, 0.5, 0.5)
    with pytest.raises(RateLimited):  # queries_per_day 3 holds for cached repeats too
        ledger.reserve("retailer_b", "one-more", 0.5, NOW, cached=True)


def test_a_finished_query_id_is_never_reused(ledger: PrivacyLedger) -> None:
    ledger.reserve("brand_x", "q", 0.5, NOW)
    ledger.fail("q")
    with pytest.raises(QueryIdConflict, match="already ended"):
        ledger.reserve("brand_x", "q", 0.5, NOW)
    assert ledger.usage("brand_x", NOW).queries_today == 1


def test_commit_persists_and_identical_query_returns_cached_answer(
    ledger_url: str, policy: Policy
) -> None:
    ledger = PrivacyLedger.open(ledger_url, policy)
    ledger.reserve("brand_x", "q1", 0.5, NOW)
    assert ledger.cached_answer("brand_x", "key", NOW) is None
    assert ledger.commit("q1", '{"all": 120}', "key", NOW) == '{"all": 120}'
    ledger.close()

    reopened = PrivacyLedger.open(ledger_url, policy)
    try:
        assert reopened.cached_answer("brand_x", "key", NOW) == '{"all": 120}'
        assert reopened.cached_answer("retailer_b", "key", NOW) is None  # per partner
        assert reopened.usage("brand_x", NOW).spent == 0.5
        # An identical query that raced past the cache check gets the first answer: uncharged
        # when nothing of it had left this node, charged when its contribution had.
        reopened.reserve("brand_x", "q2", 0.5, NOW)
        assert reopened.commit("q2", '{"all": 117}', "key", NOW) == '{"all": 120}'
        usage = reopened.usage("brand_x", NOW)
        assert (usage.spent, usage.reserved) == (0.5, 0.0)
        reopened.reserve("brand_x", "q3", 0.5, NOW)
        reopened.spend("q3")
        assert reopened.commit("q3", '{"all": 118}', "key", NOW) == '{"all": 120}'
        assert reopened.usage("brand_x", NOW).spent == 1.0
        # the cached answer lives as long as its charge is inside the budget window
        later = NOW + timedelta(days=30)
        assert reopened.cached_answer("brand_x", "key", later) is None
    finally:
        reopened.close()


def test_rolling_budget_window_does_not_refill_at_a_boundary(ledger: PrivacyLedger) -> None:
    start = datetime(2025, 3, 12, 23, 0, tzinfo=UTC)  # the last day of an old epoch block
    for i in range(4):
        ledger.reserve("brand_x", f"q{i}", 0.5, start + timedelta(minutes=i))
        ledger.spend(f"q{i}")
    for later in (timedelta(hours=2), timedelta(days=1), timedelta(days=29, hours=23)):
        with pytest.raises(BudgetExhausted):
            ledger.reserve("brand_x", "late", 0.5, start + later)
    back = start + timedelta(days=30, seconds=30)  # only q0 left the 30-day window
    held = ledger.reserve("brand_x", "late", 0.5, back)
    assert held.window_start == back - timedelta(days=30)
    usage = ledger.usage("brand_x", back)
    assert (usage.spent, usage.reserved) == (1.5, 0.5)


def test_a_ledger_from_before_rolling_windows_is_migrated(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE ledger_charges (query_id TEXT PRIMARY KEY, partner TEXT NOT NULL, "
            "day BIGINT NOT NULL, nano_epsilon BIGINT NOT NULL, state TEXT NOT NULL, "
            "query_key TEXT, answer TEXT, updated_at TEXT NOT NULL)"
        )
        day = (NOW.date() - date(1970, 1, 1)).days
        conn.exec_driver_sql(
            "INSERT INTO ledger_charges VALUES ('old', 'brand_x', ?, 1500000000, 'committed', "
            "'k', '{}', 'x')",
            (day,),
        )
    engine.dispose()
    ledger = PrivacyLedger.open(str(path), policy)
    try:  # dated at the end of its UTC day: counted until 30 days after that
        assert ledger.usage("brand_x", NOW).spent == 1.5
        assert ledger.usage("brand_x", NOW + timedelta(days=30)).spent == 1.5
        assert ledger.usage("brand_x", NOW + timedelta(days=31)).spent == 0.0
    finally:
        ledger.close()


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


@pytest.mark.slow
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
        st.sampled_from(["reserve", "spend", "commit", "fail"]),
        st.integers(0, 5),
        st.sampled_from([0.25, 0.5, 1.0]),
    ),
    max_size=25,
)
_CHARGING = ("reserved", "spent", "committed", "charged")


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
                known = state.get(qid)
                now = known[0] if known else ""
                if op == "reserve":
                    if known is not None and (known[1] != epsilon or now not in _LIVE):
                        with pytest.raises(QueryIdConflict):
                            ledger.reserve("brand_x", qid, epsilon, NOW)
                    elif known is not None:
                        ledger.reserve("brand_x", qid, epsilon, NOW)
                    elif len(state) >= 10:  # every admitted query counts, whatever its end
                        with pytest.raises(RateLimited):
                            ledger.reserve("brand_x", qid, epsilon, NOW)
                    elif _held(state) + epsilon > 2.0:
                        with pytest.raises(BudgetExhausted):
                            ledger.reserve("brand_x", qid, epsilon, NOW)
                    else:
                        ledger.reserve("brand_x", qid, epsilon, NOW)
                        state[qid] = ("reserved", epsilon)
                elif op == "spend":
                    if now in ("reserved", "spent", "committed", "charged"):
                        assert known is not None
                        assert ledger.spend(qid) == known[1]
                        if now == "reserved":
                            state[qid] = ("spent", known[1])
                    else:
                        with pytest.raises(ReservationNotFound):
                            ledger.spend(qid)
                elif op == "commit":
                    if now in ("reserved", "spent", "committed"):
                        assert ledger.commit(qid, qid, f"key-{qid}", NOW) == qid
                        state[qid] = ("committed", state[qid][1])
                    else:
                        with pytest.raises(ReservationNotFound):
                            ledger.commit(qid, qid, f"key-{qid}", NOW)
                else:
                    ended = {"reserved": "cancelled", "spent": "charged"}.get(now, now)
                    charged = known[1] if known and ended in _CHARGING else 0.0
                    assert ledger.fail(qid) == charged
                    if known is not None:
                        state[qid] = (ended, known[1])
                usage = ledger.usage("brand_x", NOW)
                spent = sum(e for s, e in state.values() if s in _CHARGING[1:])
                held = sum(e for s, e in state.values() if s == "reserved")
                assert (usage.spent, usage.reserved) == (spent, held)
                assert usage.queries_today == len(state)
                assert usage.spent + usage.reserved <= 2.0
        finally:
            ledger.close()


_LIVE = ("reserved", "spent")


def _held(state: dict[str, tuple[str, float]]) -> float:
    return sum(e for s, e in state.values() if s in _CHARGING)
