"""The node's process pool for the CPU-heavy steps (hash-to-group, scalar multiplication).

The pool uses the `spawn` start method and is created before the gRPC server starts: gRPC's
threads and `fork` do not mix. Work is cut into chunks of at most `CHUNK_ITEMS` items and kept to a
bounded window in flight, so memory stays proportional to the window, not the set.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from gongying.streams import CHUNK_ITEMS
from protocols import ristretto
from protocols.paillier import PaillierPublicKey, check_ciphertexts
from protocols.profile import Attribute, OwnerAggregate, aggregate_rows

T = TypeVar("T")
R = TypeVar("R")


def _warm_up() -> int:
    """Import the crypto library in a worker (so the first query does not pay for it)."""
    return len(ristretto.random_scalar())


def hash_and_blind_chunk(elements: Sequence[bytes], scalar: bytes) -> bytes:
    """Worker task: k * H(x) for a chunk of elements."""
    return ristretto.hash_and_blind(elements, scalar, len(elements))


def blind_points_chunk(points: bytes, scalar: bytes, first_index: int) -> bytes:
    """Worker task: k * P for a chunk of received points, validating each."""
    return ristretto.blind_points(points, scalar, first_index)


class CryptoExecutor:
    """A process pool running crypto tasks over chunks, results in submission order."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        for future in [self._pool.submit(_warm_up) for _ in range(workers)]:
            future.result()

    def map_ordered(
        self, function: Callable[..., R], argument_tuples: Iterable[tuple[object, ...]]
    ) -> Iterator[R]:
        """Run `function(*args)` for each tuple, at most 2 x workers + 2 in flight, in order."""
        window: deque[Future[R]] = deque()
        limit = 2 * self.workers + 2
        try:
            for arguments in argument_tuples:
                window.append(self._pool.submit(function, *arguments))
                if len(window) >= limit:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def blind_elements(self, elements: Sequence[bytes], scalar: bytes) -> Iterator[bytes]:
        """k * H(x) for all elements, chunk by chunk, in order."""
        return self.map_ordered(
            hash_and_blind_chunk,
            (
                (elements[start : start + CHUNK_ITEMS], scalar)
                for start in range(0, len(elements), CHUNK_ITEMS)
            ),
        )

    def blind_points(self, chunks: Iterable[bytes], scalar: bytes) -> Iterator[bytes]:
        """k * P for each chunk of points, in order; errors name the point's stream position."""

        def arguments() -> Iterator[tuple[object, ...]]:
            index = 0
            for chunk in chunks:
                yield (chunk, scalar, index)
                index += len(chunk) // ristretto.POINT_BYTES

        return self.map_ordered(blind_points_chunk, arguments())

    def shutdown(self) -> None:
        """Stop the workers (pending tasks are cancelled)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def aggregate_chunk(
    modulus: int,
    fingerprint: bytes,
    ciphertexts: bytes,
    values: dict[str, list[object]],
    specs: tuple[Attribute, ...],
) -> OwnerAggregate:
    """Worker task: decode and check a chunk of indicator ciphertexts, aggregate its rows."""
    public_key = PaillierPublicKey(modulus)
    width = public_key.ciphertext_width
    indicators = [
        int.from_bytes(ciphertexts[i : i + width], "big") for i in range(0, len(ciphertexts), width)
    ]
    check_ciphertexts(public_key, indicators, fingerprint)
    return aggregate_rows(public_key, indicators, values, specs)
