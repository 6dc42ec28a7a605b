"""The progress registry: steps in order, totals, counts from many threads, expiry."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from coordinator.progress import ProgressRegistry, UnknownQuery
from model.progress import OPEN, OVERLAP_STEPS, PROFILE_STEPS, ROUTING, QueryProgress, StepProgress
from wire.coordinator_serde import progress_from_proto as from_proto
from wire.coordinator_serde import progress_to_proto as to_proto


def test_steps_in_order_with_totals_and_counts() -> None:
    registry = ProgressRegistry()
    registry.begin("q", OVERLAP_STEPS, {OPEN: 3})
    registry.add("q", OPEN, 2)
    registry.set_total("q", ROUTING, 3 * (10 + 20 + 30))
    registry.add("q", ROUTING, 40)
    snap = registry.snapshot("q")
    assert snap == QueryProgress(
        "q", (StepProgress(OPEN, 2, 3), StepProgress(ROUTING, 40, 180)), finished=False
    )
    assert snap.step(ROUTING) == StepProgress(ROUTING, 40, 180)
    assert not snap.step(OPEN).complete  # type: ignore[union-attr]
    registry.finish("q")
    assert registry.snapshot("q").finished  # type: ignore[union-attr]
    registry.add("q", ROUTING, 5)  # after the end: ignored
    assert registry.snapshot("q").step(ROUTING).done == 40  # type: ignore[union-attr]


def test_profile_totals() -> None:
    registry = ProgressRegistry()
    registry.begin("p", PROFILE_STEPS)
    registry.profile_totals("p", {"brand": 100, "a": 30, "b": 50}, "brand")
    snap = registry.snapshot("p")
    assert snap is not None
    assert [s.name for s in snap.steps] == list(PROFILE_STEPS)
    # the querier set once plus twice per owner (owner re-blinds, querier unblinds); lists once
    assert snap.step(ROUTING).total == 100 * (1 + 2 * 2) + 80  # type: ignore[union-attr]
    assert snap.step("indicator encryption").total == 80  # type: ignore[union-attr]
    assert snap.step("mask generation").total == 80  # type: ignore[union-attr]


def test_unregistered_queries_are_not_counted() -> None:
    registry = ProgressRegistry()
    registry.add("nobody", ROUTING, 5)
    registry.set_total("", ROUTING, 5)
    registry.finish("nobody")
    assert registry.snapshot("nobody") is None
    assert registry.running() == []


def test_counted_and_track() -> None:
    registry = ProgressRegistry()
    registry.begin("q", OVERLAP_STEPS)
    chunks = [b"\x01" * 64, b"\x02" * 32]
    assert list(registry.counted("q", ROUTING, iter(chunks))) == chunks
    with ThreadPoolExecutor(2) as threads:
        futures: list[Future[float]] = [threads.submit(lambda: 1.0), threads.submit(lambda: 1 / 0)]
        registry.track("q", OPEN, futures)
    snap = registry.snapshot("q")
    assert snap is not None
    assert snap.step(ROUTING).done == 3  # type: ignore[union-attr]
    # the failed one is not counted
    assert snap.step(OPEN).done == 1  # type: ignore[union-attr]


def test_counts_from_many_threads_add_up() -> None:
    registry = ProgressRegistry()
    registry.begin("q", OVERLAP_STEPS)
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(5000):
            registry.add("q", ROUTING, 3)
            registry.snapshot("q")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.snapshot("q").step(ROUTING).done == 8 * 5000 * 3  # type: ignore[union-attr]


def test_finished_entries_expire() -> None:
    registry = ProgressRegistry(keep_seconds=0.2)
    registry.begin("old", OVERLAP_STEPS)
    registry.begin("running", OVERLAP_STEPS)
    registry.finish("old")
    assert set(registry.running()) == {"old", "running"}
    time.sleep(0.3)
    assert registry.snapshot("old") is None
    assert registry.running() == ["running"]  # unfinished queries stay


def test_watch_waits_for_the_query_then_follows_it_to_the_end() -> None:
    registry = ProgressRegistry()
    seen: list[QueryProgress] = []

    def watcher() -> None:
        seen.extend(registry.watch("q", interval=0.02, wait_registered=5.0))

    thread = threading.Thread(target=watcher)
    thread.start()
    time.sleep(0.1)
    registry.begin("q", OVERLAP_STEPS, {ROUTING: 10})
    for _ in range(10):
        registry.add("q", ROUTING)
        time.sleep(0.01)
    registry.finish("q")
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert seen and seen[-1].finished and not seen[-1].failed
    assert seen[-1].step(ROUTING) == StepProgress(ROUTING, 10, 10)
    dones = [s.step(ROUTING).done for s in seen]  # type: ignore[union-attr]
    assert dones == sorted(dones)


def test_watch_of_an_unknown_query_gives_up() -> None:
    registry = ProgressRegistry()
    started = time.monotonic()
    with pytest.raises(UnknownQuery):
        list(registry.watch("never", interval=0.02, wait_registered=0.2))
    assert time.monotonic() - started < 2


def test_watch_stops_when_the_watcher_goes_away() -> None:
    registry = ProgressRegistry()
    registry.begin("q", OVERLAP_STEPS)
    active = iter([True, True, False])
    updates = list(registry.watch("q", interval=0.01, active=lambda: next(active, False)))
    assert len(updates) == 1 and not updates[0].finished


def test_proto_round_trip() -> None:
    """Counts of parties travel as they are; a step that follows set sizes as thousandths."""
    progress = QueryProgress("q", (StepProgress(OPEN, 1, 2), StepProgress(ROUTING, 5, 9)), True)
    assert from_proto(to_proto(progress)) == QueryProgress(
        "q", (StepProgress(OPEN, 1, 2), StepProgress(ROUTING, 555, 1000)), True
    )
