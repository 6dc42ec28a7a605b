"""The scheduler's own thread: a schedule whose nodes cannot be reached is recorded as failed,
tried again 15 minutes later within its slot, and the coordinator keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coordinator.config import load_coordinator_config
from coordinator.history import Run
from coordinator.server import start_coordinator
from gongying.launch import free_port
from tests.workspace.cluster import FakeClock

CONFIG = """listen = "127.0.0.1:0"
insecure_plaintext = true
workers = 0
deadline_seconds = 5
history = "history.db"

[parties]
brand = "127.0.0.1:{a}"
retailer_a = "127.0.0.1:{b}"

[schedules.nightly]
every = "daily"
kind = "overlap"
parties = ["brand", "retailer_a"]
"""


def test_the_background_loop_records_failures_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(CONFIG.format(a=free_port(), b=free_port()))  # nothing listens there
    clock = FakeClock(datetime(2026, 5, 1, 3, tzinfo=UTC))
    coordinator = start_coordinator(
        load_coordinator_config(path),
        workspace_options={"clock": clock, "schedule_interval": 0.1},
    )
    try:
        store = coordinator.workspace.store
        assert store is not None
        deadline = time.monotonic() + 60

        def wait_for(condition: Callable[[list[Run]], bool]) -> list[Run]:
            while not condition(runs := store.runs()) and time.monotonic() < deadline:
                time.sleep(0.1)
            return runs

        assert len(wait_for(lambda runs: len(runs) == 1)) == 1
        clock.now += timedelta(minutes=10)  # too soon to try again
        time.sleep(1.0)
        assert [r.attempts for r in store.runs()] == [1]
        clock.now += timedelta(minutes=10)  # 20 minutes after the failure: tried again
        assert [r.attempts for r in wait_for(lambda runs: runs[0].attempts == 2)] == [2]
        clock.now = datetime(2026, 5, 2, 3, tzinfo=UTC)
        runs = wait_for(lambda runs: len(runs) == 2)
        assert [(r.slot.day, r.outcome, r.rule, r.attempts) for r in runs] == [
            (1, "failed", "UNAVAILABLE", 2),
            (2, "failed", "UNAVAILABLE", 1),
        ]
        assert "brand" in (runs[0].error or "") or "retailer_a" in (runs[0].error or "")
        assert coordinator.service.parties()  # still serving
    finally:
        coordinator.stop(grace=0.5)
