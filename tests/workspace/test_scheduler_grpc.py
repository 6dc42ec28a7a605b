"""The scheduler over a real deployment: one run per slot, released answers kept with their
release information and equal to the files' truth, refusals recorded without stopping it."""

from __future__ import annotations

from datetime import UTC, datetime

from coordinator.history import HistoryStore
from model.results import OverlapResult
from tests.workspace.cluster import BRAND, MONTHS, PARTIES, Workspace


def store(workspace: Workspace) -> HistoryStore:
    history = workspace.coordinator.workspace.store
    assert history is not None
    return history


def slot(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 2, tzinfo=UTC)


def test_each_due_slot_runs_once(workspace: Workspace) -> None:
    made = [sorted((run.schedule, run.slot) for run in tick) for tick in workspace.made]
    assert made == [
        [("ab_daily", slot(9, 1)), ("monthly_overlap", slot(9, 1)), ("unsigned", slot(9, 1))],
        [("ab_daily", slot(10, 1)), ("monthly_overlap", slot(10, 1)), ("unsigned", slot(9, 29))],
        [("ab_daily", slot(11, 1)), ("monthly_overlap", slot(11, 1)), ("unsigned", slot(10, 27))],
    ]
    assert workspace.repeat == []  # a second tick in the same slots runs nothing
    assert len(store(workspace).runs()) == 9


def test_released_answers_are_the_truth_with_their_release_information(
    workspace: Workspace,
) -> None:
    monthly = store(workspace).runs("monthly_overlap")
    assert [run.outcome for run in monthly] == ["released"] * 3
    for run, truth in zip(monthly, workspace.truths, strict=True):
        assert run.result is not None
        result = OverlapResult.from_json(run.result)
        assert result.query_id == run.query_id
        assert result.set_sizes == truth.sizes
        assert {frozenset(m): n for m, n in result.regions} == truth.regions
        assert result.release.k == 5 and result.release.epsilon == 0.0
        assert result.pair(BRAND, "retailer_a") == truth.pair(BRAND, "retailer_a")
    # the overlap grows month by month, as the files were written
    pairs = [t.pair(BRAND, "retailer_a") for t in workspace.truths]
    assert pairs == sorted(pairs) and pairs[0] < pairs[-1]


def test_refusals_are_recorded_and_the_scheduler_goes_on(workspace: Workspace) -> None:
    daily = store(workspace).runs("ab_daily")
    assert [run.outcome for run in daily] == ["released", "released", "refused"]
    assert [run.epsilon for run in daily] == [0.5, 0.5, 0.0]
    assert daily[2].rule == "RESOURCE_EXHAUSTED" and "budget" in (daily[2].error or "")
    unsigned = store(workspace).runs("unsigned")
    assert [(run.outcome, run.rule) for run in unsigned] == [("refused", "PERMISSION_DENIED")] * 3
    assert all(run.result is None for run in unsigned)
    # the monthly run of the tick in which the budget ran out was still released
    assert store(workspace).runs("monthly_overlap")[-1].slot == slot(11, 1)
    assert workspace.clock.now == MONTHS[-1]


def test_every_run_is_in_the_coordinators_audit_log_with_its_outcome(
    workspace: Workspace,
) -> None:
    audit = workspace.coordinator.service.audit
    assert audit is not None
    logged = {s.record.query_id: s.record for s in audit.records()}
    for run in store(workspace).runs():
        record = logged[run.query_id]
        assert record.decision == run.outcome
        assert record.parties == run.parties
        assert set(record.parties) <= set(PARTIES)
    # a signed scheduled query is logged as its querier's, at the coordinator and every node
    for run in store(workspace).runs("monthly_overlap"):
        assert logged[run.query_id].requester == BRAND
        for party in PARTIES:
            node_log = workspace.nodes[party].service.governance.audit
            assert node_log is not None
            assert [r.record.requester for r in node_log.records(query_id=run.query_id)] == [BRAND]
