"""Matching partition by partition from disk (`coordinator.spill`) releases exactly what the
in-memory `count_regions` releases, holds one partition at a time, and leaves no file behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from client.sdk import CoordinatorClient, QueryError
from coordinator.spill import PointSpill
from gongying.demo_data import generate_demo_data
from protocols import psi
from protocols.matching import DuplicatePoints, RegionCounts, count_regions
from protocols.partitions import partition_keys, split_by_partition, sum_region_counts
from protocols.psi import PsiParty
from tests.scale.test_dask_executor import _start

pytestmark = pytest.mark.slow  # matches sets spilled to disk over gRPC

PARTIES = ("brand", "retailer_a", "retailer_b", "retailer_c", "retailer_d")


def _random_sets(
    rng: np.random.Generator, parties: tuple[str, ...], universe: int
) -> tuple[dict[str, bytes], dict[frozenset[str], int]]:
    """Random distinct points, each held by a random non-empty subset; the regions' truth."""
    points = rng.integers(0, 256, size=(universe, 32), dtype=np.uint8)
    points = np.unique(points, axis=0)
    points = points[rng.permutation(len(points))]
    masks = rng.integers(1, 1 << len(parties), size=len(points))
    sets = {
        party: points[(masks >> i & 1).astype(bool)].tobytes() for i, party in enumerate(parties)
    }
    truth = {
        frozenset(members): 0
        for r in range(1, len(parties) + 1)
        for members in combinations(parties, r)
    }
    for mask in masks.tolist():
        truth[frozenset(p for i, p in enumerate(parties) if mask >> i & 1)] += 1
    return sets, truth


def _spilled(
    sets: dict[str, bytes], bits: int, folder: Path, rng: np.random.Generator, buffer: int = 7
) -> RegionCounts:
    """Count `sets` through a spill, fed in chunks of random sizes (points of 32 bytes)."""
    with PointSpill(list(sets), bits=bits, buffer_points=buffer, directory=folder) as spill:
        for party, points in sets.items():
            start, chunks = 0, []
            while start < len(points):
                step = 32 * int(rng.integers(1, 300))
                chunks.append(points[start : start + step])
                start += step
            assert spill.add_all(party, chunks) == len(points) // 32
        return spill.count_regions()


@pytest.mark.parametrize("seed", range(6))
def test_partitioned_counts_equal_in_memory_counts(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    parties = PARTIES[: 2 + seed % 4]
    sets, truth = _random_sets(rng, parties, universe=int(rng.integers(0, 6000)))
    in_memory = count_regions(sets)
    assert in_memory.regions == truth
    for bits in (0, 1, 5, 8):
        spilled = _spilled(sets, bits, tmp_path, rng)
        assert spilled == in_memory
        assert spilled.pairwise() == in_memory.pairwise()
    assert os.listdir(tmp_path) == []


def test_fully_blinded_ristretto_points_fill_every_partition(tmp_path: Path) -> None:
    # Byte 0 of a ristretto255 encoding is always even: keyed on it, half the partitions would
    # stay empty (and the others twice as full). The key comes from bytes 1-2 instead.
    elements = [f"email:m{i}@x.cn".encode() for i in range(4096)]
    first, second = PsiParty.fresh(), PsiParty.fresh()
    points = second.reblind(first.blind_own_set(elements))
    assert all(points[i] % 2 == 0 for i in range(0, len(points), 32))
    counts = np.bincount(partition_keys(points, 4), minlength=16)
    assert counts.min() > 4096 / 16 / 2
    rebuilt = {part: chunk for part, chunk in split_by_partition(points, 4)}
    assert sorted(rebuilt) == list(range(16))
    assert sum(len(chunk) for chunk in rebuilt.values()) == len(points)
    with PointSpill(["a", "b"], bits=4, directory=tmp_path) as spill:
        spill.add_all("a", [points])
        spill.add_all("b", [points[: 32 * 1000]])
        largest = max(sum(len(p) for p in sets.values()) for sets in spill.partitions())
        assert largest < 3 * len(points) * 1.25 / 16
        assert spill.count_regions().regions[frozenset({"a", "b"})] == 1000


def test_duplicates_are_refused_and_the_directory_removed(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    sets, _ = _random_sets(rng, PARTIES[:3], universe=500)
    sets["retailer_a"] += sets["retailer_a"][:32]
    with pytest.raises(DuplicatePoints, match="retailer_a"):
        count_regions(sets)
    with pytest.raises(DuplicatePoints, match="retailer_a"):
        _spilled(sets, 8, tmp_path, rng)
    assert os.listdir(tmp_path) == []


def test_spill_is_removed_when_the_query_fails_midway(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), PointSpill(["a", "b"], directory=tmp_path) as spill:
        spill.add_all("a", [os.urandom(32 * 5000)])
        assert (spill.folder.stat().st_mode & 0o777) == 0o700
        assert any(spill.folder.iterdir())
        raise RuntimeError("a node went away")
    assert os.listdir(tmp_path) == []


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 to 16 parties"):
        PointSpill(["only"], directory=tmp_path)
    with pytest.raises(ValueError, match="0 to 16"):
        PointSpill(["a", "b"], bits=17, directory=tmp_path)
    with pytest.raises(ValueError, match="multiple of 32"):
        partition_keys(b"x" * 33, 8)
    one = count_regions({"a": os.urandom(32), "b": b""})
    with pytest.raises(ValueError, match="expected"):
        sum_region_counts(["b", "a"], [one])
    assert os.listdir(tmp_path) == []


def test_a_killed_coordinators_spill_is_removed_by_the_next(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = tmp_path / f"gongying-match-{gone.pid}-x1"
    live = tmp_path / f"gongying-match-{os.getpid()}-x2"
    for folder in (orphan, live):
        folder.mkdir()
        (folder / "00-00001.points").write_bytes(os.urandom(64))
    with PointSpill(["a", "b"], directory=tmp_path) as spill:
        assert spill.folder.name.startswith(f"gongying-match-{os.getpid()}-")
        assert not orphan.exists() and live.exists()
    assert sorted(os.listdir(tmp_path)) == [live.name]


def test_a_node_that_returns_duplicate_points_gets_nothing_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every node's shuffle copies its first point over its second: each final set then holds a
    # point twice, which the partitioned matching must refuse as the in-memory one did.
    spills = tmp_path / "spills"
    spills.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spills))
    honest = psi.shuffle_points

    def duplicating(points: bytes) -> bytes:
        shuffled = honest(points)
        return shuffled[:32] + shuffled[:32] + shuffled[64:] if len(shuffled) >= 64 else shuffled

    paths = dict(generate_demo_data(tmp_path / "data", members=200, seed=3).paths)
    running = _start(tmp_path, {p: paths[p] for p in ("brand", "retailer_a")}, "local")
    try:
        monkeypatch.setattr(psi, "shuffle_points", duplicating)
        with (
            CoordinatorClient(running.coordinator.address) as client,
            pytest.raises(QueryError, match="more than once"),
        ):
            client.overlap(["brand", "retailer_a"], "email")
    finally:
        running.stop()
    assert list(spills.iterdir()) == []
