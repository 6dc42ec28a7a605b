"""The scheduler's own thread: a schedule whose nodes cannot be reached is recorded as failed,
slot by slot, and the coordinator keeps serving."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from coordinator.config import load_coordinator_config
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
        deadline = time.monotonic() + 30
        while len(store.runs()) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        clock.now = datetime(2026, 5, 2, 3, tzinfo=UTC)
        while len(store.runs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        runs = store.runs()
        assert [(r.slot.day, r.outcome, r.rule) for r in runs] == [
            (1, "failed", "UNAVAILABLE"),
            (2, "failed", "UNAVAILABLE"),
        ]
        assert "brand" in (runs[0].error or "") or "retailer_a" in (runs[0].error or "")
        assert coordinator.service.parties()  # still serving
    finally:
        coordinator.stop(grace=0.5)
