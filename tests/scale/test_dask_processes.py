"""A real Dask cluster: `dask scheduler` and two `dask worker` processes started with subprocess
on loopback ports; nodes and the coordinator point at it (`executor = "dask://HOST:PORT"`), and
overlap and profile answers must equal the pandas truth computed from the CSV files.

The processes run in their own process group and are stopped (SIGTERM, then SIGKILL) at the end;
should this test process die first, the workers exit when the scheduler is gone
(`--death-timeout`) and the scheduler after a minute without work (`--idle-timeout`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')"
)

from client.sdk import CoordinatorClient  # noqa: E402
from gongying.demo import plaintext_truth  # noqa: E402
from gongying.demo_data import PARTIES, generate_demo_data  # noqa: E402
from gongying.demo_profile import ATTRIBUTES, differences, profile_truths  # noqa: E402
from runtime.executor import DaskBackend  # noqa: E402
from tests.scale.test_dask_executor import _start  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0


def _spawn(arguments: list[str], folder: Path, log: str) -> subprocess.Popen[bytes]:
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    with (folder / log).open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments],
            cwd=folder,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(folder.glob("*.log")))


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[int]]]:
    """(`dask://HOST:PORT`, worker process ids) of a scheduler and two single-thread workers."""
    folder = tmp_path_factory.mktemp("dask-processes")
    scheduler_file = folder / "scheduler.json"
    processes = [
        _spawn(
            [
                *("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
                *("--scheduler-file", str(scheduler_file), "--idle-timeout", "60s"),
            ],
            folder,
            "scheduler.log",
        )
    ]
    try:
        started = time.monotonic()
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if processes[0].poll() is not None or time.monotonic() - started > START_SECONDS:
                pytest.fail(f"the dask scheduler did not start:\n{_logs(folder)}")
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for index in range(2):
            processes.append(
                _spawn(
                    [
                        *("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"),
                        *("--host", "127.0.0.1", "--death-timeout", "30s"),
                        *("--local-directory", str(folder / f"worker{index}")),
                    ],
                    folder,
                    f"worker{index}.log",
                )
            )
        with distributed.Client(address, timeout=START_SECONDS) as client:
            try:
                client.wait_for_workers(2, timeout=START_SECONDS)
            except TimeoutError:
                pytest.fail(f"two dask workers did not join:\n{_logs(folder)}")
            pids = sorted(client.run(os.getpid).values())
        yield "dask://" + address.removeprefix("tcp://"), pids
    finally:
        _stop(processes)
    assert all(process.poll() is not None for process in processes)


@pytest.mark.slow  # about a minute on a shared 2-core machine: three processes start
def test_overlap_and_profile_through_separate_worker_processes(
    dask_cluster: tuple[str, list[int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executor, worker_pids = dask_cluster
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    spills = tmp_path / "spills"
    spills.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spills))  # the coordinator's matching spill
    paths = dict(generate_demo_data(tmp_path / "data", members=300, seed=11).paths)
    running = _start(tmp_path, paths, executor)
    address = "tcp://" + executor.removeprefix("dask://")
    try:
        backend = running.nodes["brand"].executor.backend
        assert isinstance(backend, DaskBackend) and backend.workers == 2
        with distributed.Client(address, timeout=30) as client:
            before = sum(client.run(_executed).values())
        with CoordinatorClient(running.coordinator.address) as coordinator:
            overlap = coordinator.overlap(list(PARTIES), "email")
            owners = ["retailer_a", "retailer_b"]
            profile = coordinator.profile("brand", owners, list(ATTRIBUTES))
        with distributed.Client(address, timeout=30) as client:
            executed = client.run(_executed)
    finally:
        running.stop()
    truth = plaintext_truth(paths, "email")
    assert {frozenset(members): count for members, count in overlap.regions} == truth
    assert overlap.all_parties == truth[frozenset(PARTIES)] > 0
    assert differences(profile, profile_truths(paths, "brand", owners, "email")) == []
    # Both worker processes did crypto work for these queries, and the spill is gone.
    assert sum(executed.values()) > before
    assert all(count > 0 for count in executed.values()), executed
    assert list(spills.iterdir()) == []


def _executed(dask_worker: object) -> int:
    """Tasks a worker has run (called on each worker by `Client.run`)."""
    state = getattr(dask_worker, "state", None)
    return int(getattr(state, "executed_count", 0))


def test_an_unreachable_scheduler_is_one_line_naming_the_key_and_the_fix() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: nothing answers there
        with pytest.raises(OSError) as refused:
            DaskBackend(f"tcp://127.0.0.1:{port}", timeout=2)
    message = str(refused.value)
    assert "\n" not in message
    assert f"executor dask://127.0.0.1:{port}: no Dask scheduler answered within 2 s" in message
    assert 'executor = "local"' in message
