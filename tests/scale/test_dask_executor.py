"""The Dask executor backend: same answers as the local pool, bounded window, fresh masks.

Runs a `dask.distributed.LocalCluster` (2 workers, one thread each, in this process, over TCP so
that nodes reach it through `executor = "dask://HOST:PORT"` like a real cluster).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')"
)

from client.sdk import CoordinatorClient  # noqa: E402
from connectors.source_spec import SourceSpec  # noqa: E402
from coordinator.config import CoordinatorConfig  # noqa: E402
from coordinator.server import CoordinatorServer, start_coordinator  # noqa: E402
from gongying.demo_data import PARTIES, RETAILERS, generate_demo_data  # noqa: E402
from gongying.demo_profile import (  # noqa: E402
    ATTRIBUTES,
    DEMO_ATTRIBUTES,
    differences,
    profile_truths,
)
from node.config import load_node_config  # noqa: E402
from node.server import NodeServer, start_node  # noqa: E402
from protocols.masks import build_mask_table  # noqa: E402
from protocols.paillier import generate_keypair  # noqa: E402
from protocols.psi import PsiParty  # noqa: E402
from runtime.config_file import ConfigError  # noqa: E402
from runtime.config_writer import node_table, write_toml  # noqa: E402
from runtime.executor import CryptoExecutor, DaskBackend, hash_and_blind_chunk  # noqa: E402
from runtime.executor_spec import parse_executor  # noqa: E402

pytestmark = pytest.mark.slow  # starts a local Dask cluster and worker pools


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    local = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield "dask://" + local.scheduler_address.removeprefix("tcp://")
    finally:
        local.close()


@pytest.fixture(scope="module")
def executors(cluster: str) -> Iterator[tuple[CryptoExecutor, CryptoExecutor]]:
    local = CryptoExecutor(1)
    dask = CryptoExecutor(1, DaskBackend("tcp://" + cluster.removeprefix("dask://")))
    yield local, dask
    dask.shutdown()
    local.shutdown()


def test_config_accepts_local_and_dask_only() -> None:
    assert parse_executor("local", "x") == "local"
    assert parse_executor("dask://10.0.0.5:8786", "x") == "dask://10.0.0.5:8786"
    for bad in ("dask://nowhere", "ray://h:1", "Local"):
        with pytest.raises(ConfigError, match=r"executor|HOST:PORT"):
            parse_executor(bad, "node.toml.executor")


def test_blinding_is_identical_on_both_backends(
    executors: tuple[CryptoExecutor, CryptoExecutor],
) -> None:
    local, dask = executors
    assert dask.workers == 2
    elements = [f"email:m{i}@x.cn".encode() for i in range(20_000)]
    party = PsiParty.fresh()
    from_local = b"".join(local.blind_elements(elements, party.blinder()))
    from_dask = b"".join(dask.blind_elements(elements, party.blinder()))
    assert from_dask == from_local == party.blind_own_set(elements)
    other = PsiParty.fresh()
    chunks = [from_local[i : i + 32 * 3000] for i in range(0, len(from_local), 32 * 3000)]
    assert b"".join(dask.blind_points(iter(chunks), other.blinder())) == b"".join(
        local.blind_points(iter(chunks), other.blinder())
    )


def test_bad_point_error_crosses_the_cluster(
    executors: tuple[CryptoExecutor, CryptoExecutor],
) -> None:
    local, dask = executors
    bad = b"\xff" * 32 * 4
    with pytest.raises(Exception) as on_local:
        list(local.blind_points(iter([bad]), PsiParty.fresh().blinder()))
    with pytest.raises(type(on_local.value)):
        list(dask.blind_points(iter([bad]), PsiParty.fresh().blinder()))


def test_dask_window_is_bounded_and_ordered(
    executors: tuple[CryptoExecutor, CryptoExecutor],
) -> None:
    _, dask = executors
    pulled = 0
    most_ahead = 0
    blinder = PsiParty.fresh().blinder()

    def tasks() -> Iterator[tuple[object, ...]]:
        nonlocal pulled
        for i in range(40):
            pulled += 1
            yield (blinder, [f"e{i}".encode()])

    results = []
    for result in dask.map_ordered(hash_and_blind_chunk, tasks()):
        results.append(result)
        most_ahead = max(most_ahead, pulled - len(results))
    assert most_ahead <= 2 * dask.workers + 2
    assert results == [blinder.hash_and_blind([f"e{i}".encode()]) for i in range(40)]


def test_dask_masks_are_fresh(executors: tuple[CryptoExecutor, CryptoExecutor]) -> None:
    _, dask = executors
    public_key, _ = generate_keypair(2048)
    table = build_mask_table(public_key)
    masks = [m for batch in dask.generate_masks(table.n, table.h_s, 64, batch=16) for m in batch]
    assert len(masks) == len(set(masks)) == 64


@dataclass
class Running:
    nodes: dict[str, NodeServer]
    coordinator: CoordinatorServer

    def stop(self) -> None:
        self.coordinator.stop(grace=1.0)
        for node in self.nodes.values():
            node.stop(grace=1.0)


def _start(folder: Path, paths: dict[str, Path], executor: str) -> Running:
    nodes: dict[str, NodeServer] = {}
    for party, path in paths.items():
        kind = executor.partition(":")[0]
        owner = party in RETAILERS
        table = node_table(
            party,
            "127.0.0.1:0",
            SourceSpec(kind="csv", path=str(path)),
            {"email": "email", "phone": "phone"},
            audit_log=f"{party}-{kind}.audit.db",
            attributes=DEMO_ATTRIBUTES if owner else (),
            paillier_key=None if owner else f"{folder / party}.paillier.json",
            paillier_bits=None if owner else 2048,
            more={"executor": executor, "ledger": f"{party}-{kind}.ledger.db"},
        )
        config = write_toml(folder / f"{party}-{kind}.toml", table)
        loaded = load_node_config(config)
        assert loaded.executor == executor
        nodes[party] = start_node(loaded)
    coordinator = start_coordinator(
        CoordinatorConfig(
            listen="127.0.0.1:0",
            parties={p: n.address for p, n in nodes.items()},
            workers=1,
            insecure_plaintext=True,
            executor=executor,
        )
    )
    return Running(nodes, coordinator)


def _answers(running: Running, paths: dict[str, Path]) -> dict[str, Any]:
    owners = ["retailer_a", "retailer_b"]
    with CoordinatorClient(running.coordinator.address) as client:
        overlap = client.overlap(list(PARTIES), "email")
        profile = client.profile("brand", owners, list(ATTRIBUTES))
    assert differences(profile, profile_truths(paths, "brand", owners, "email")) == []
    return {
        "set_sizes": overlap.set_sizes,
        "regions": overlap.regions,
        "pairwise": overlap.pairwise,
        "all": overlap.all_parties,
        "profiles": [
            (p.owner, p.overlap, p.categorical, p.numeric, p.suppressed_numeric)
            for p in profile.profiles
        ],
    }


def test_overlap_and_profile_answers_equal_local_backend(
    cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("dask")
    data = generate_demo_data(folder / "data", members=300, seed=5)
    paths = dict(data.paths)
    answers = {}
    for executor in ("local", cluster):
        running = _start(folder, paths, executor)
        try:
            if executor != "local":
                backend = running.nodes["brand"].executor.backend
                assert isinstance(backend, DaskBackend)
            answers[executor] = _answers(running, paths)
        finally:
            running.stop()
    assert answers[cluster] == answers["local"]
    assert answers["local"]["all"]
