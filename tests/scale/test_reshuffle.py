"""A node's bounded reshuffle (`node.reshuffle`): every point back once, every order equally
likely (a chi-square test over repeated trials, as the coordinator would see it), nothing sent
before the whole set is in, memory held to about a bucket, and no file left behind."""

from __future__ import annotations

import itertools
import os
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from node.reshuffle import reshuffled
from protocols.psi import POINT_BYTES

CHUNK = 8192 * POINT_BYTES


def _points(count: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, POINT_BYTES), dtype=np.uint8).tobytes()


def _chunks(points: bytes, size: int) -> list[bytes]:
    return [points[i : i + size] for i in range(0, len(points), size)]


def _rows(points: bytes) -> list[bytes]:
    return [points[i : i + POINT_BYTES] for i in range(0, len(points), POINT_BYTES)]


@pytest.mark.parametrize(
    ("count", "chunk_points", "buckets", "memory_points"),
    [
        (0, 5, 256, 1 << 20),
        (1, 5, 256, 1 << 20),
        (1000, 7, 256, 1 << 20),
        (1000, 64, 1, 10),
        (5000, 100, 13, 300),
        (20000, 8192, 256, 4096),
    ],
)
def test_every_point_comes_back_once(
    tmp_path: Path, count: int, chunk_points: int, buckets: int, memory_points: int
) -> None:
    points = _points(count)
    out = list(
        reshuffled(_chunks(points, chunk_points * POINT_BYTES), buckets, memory_points, tmp_path)
    )
    assert sorted(_rows(b"".join(out))) == sorted(_rows(points))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("memory_points", [1 << 20, 1], ids=["in memory", "spilled"])
def test_every_order_is_equally_likely(tmp_path: Path, memory_points: int) -> None:
    """4 points, 2,400 trials: the 24 orders' counts pass a chi-square test at 1e-4, and where
    a given point lands is uniform (what a coordinator lining points up would exploit)."""
    points = _points(4, seed=1)
    rows = _rows(points)
    orders: Counter[tuple[int, ...]] = Counter()
    trials = 2400
    for _ in range(trials):
        out = _rows(b"".join(reshuffled([points], 2, memory_points, tmp_path)))
        orders[tuple(rows.index(p) for p in out)] += 1
    observed = [orders[o] for o in itertools.permutations(range(4))]
    assert sum(observed) == trials
    assert chisquare(observed).pvalue > 1e-4
    first_lands = Counter(order.index(0) for order in orders.elements())
    assert chisquare([first_lands[i] for i in range(4)]).pvalue > 1e-4
    assert os.listdir(tmp_path) == []


def test_nothing_is_sent_before_the_set_is_in_and_a_failure_leaves_no_file(
    tmp_path: Path,
) -> None:
    def failing() -> Iterator[bytes]:
        yield _points(3000, seed=2)
        assert any(tmp_path.iterdir())  # past memory_points: buckets are on disk by now
        raise RuntimeError("bad trailer")

    stream = reshuffled(failing(), 16, 100, tmp_path)
    with pytest.raises(RuntimeError, match="bad trailer"):
        next(stream)
    assert os.listdir(tmp_path) == []


def test_spilled_directory_is_private(tmp_path: Path) -> None:
    modes: list[int] = []

    def watched() -> Iterator[bytes]:
        yield _points(500, seed=3)
        modes.extend(p.stat().st_mode & 0o777 for p in tmp_path.iterdir())

    list(reshuffled(watched(), 4, 10, tmp_path))
    assert modes == [0o700]


def test_memory_is_about_a_bucket_not_the_set(tmp_path: Path) -> None:
    """16 MiB of points through 64 buckets with 16k points in memory: the peak of Python and
    numpy allocations stays under 4 MiB (one pass in memory would hold the set twice)."""

    def generated() -> Iterator[bytes]:
        for _ in range(64):
            yield os.urandom(CHUNK)

    tracemalloc.start()
    try:
        sent = sum(len(piece) for piece in reshuffled(generated(), 64, 1 << 14, tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent == 64 * CHUNK
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_bucket_count_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(reshuffled([b""], 0))
