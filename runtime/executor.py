"""One interface for the CPU-heavy steps, with two backends: a local process pool or Dask.

`CryptoExecutor` runs top-level worker functions over chunks, each a thin call of the protocol
object that production and the oracle tests share (`protocols.psi.Blinder`: hash-to-group and
scalar multiplication; `protocols.profile_parties.IndicatorChunk`: an owner's aggregation) or of
`protocols.masks` (Paillier masks). Results come in submission order, with a bounded window in
flight (2 x workers + 2 chunks), so memory stays proportional to the window, not the set.
The backend is chosen by the `executor` config key:

- `"local"` (default): a `spawn` process pool, created before the gRPC server starts (gRPC's
  threads and `fork` do not mix);
- `"dask://HOST:PORT"`: the workers of a running `dask.distributed` scheduler. Every worker must be
  able to import this project (the tasks are these module-level functions, pickled by reference);
  `dask[distributed]` is needed only for this backend.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

from model.sizes import CHUNK_ITEMS
from protocols.group_names import KNOWN_GROUPS
from protocols.groups import group
from protocols.masks import MaskTable, generate_masks, table_for_base
from protocols.paillier import PaillierPublicKey
from protocols.profile import OwnerAggregate
from protocols.profile_parties import IndicatorChunk
from protocols.psi import POINT_BYTES, Blinder
from runtime.executor_spec import LOCAL, dask_address

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

MASK_BATCH = 2048


# --- worker functions (top level: workers import them by name) -------------------------------


PARENT_POLL_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the node process that started it is gone.

    A node killed with SIGKILL cannot stop its pool; without this its workers live on as
    orphans (reparented, so `getppid` changes).
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _warm_up() -> int:
    """Import the crypto libraries in a worker (so the first query does not pay for it)."""
    return sum(len(group(name).random_scalar()) for name in KNOWN_GROUPS)


def hash_and_blind_chunk(blinder: Blinder, elements: Sequence[bytes]) -> bytes:
    """Worker task: k * H(x) for a chunk of elements (`Blinder.hash_and_blind`)."""
    return blinder.hash_and_blind(elements)


def hash_and_blind_keeping_chunk(
    blinder: Blinder, elements: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Worker task: (H(x), k * H(x)) for a chunk (`Blinder.hash_and_blind_keeping_hashes`)."""
    return blinder.hash_and_blind_keeping_hashes(elements)


def blind_points_chunk(blinder: Blinder, points: bytes, first_index: int) -> bytes:
    """Worker task: k * P for a chunk of received points, validating each (`Blinder.blind`)."""
    return blinder.blind(points, first_index)


def aggregate_chunk(chunk: IndicatorChunk) -> OwnerAggregate:
    """Worker task: a chunk of indicator ciphertexts aggregated (`IndicatorChunk.aggregate`)."""
    return chunk.aggregate()


_mask_tables: dict[tuple[int, int], MaskTable] = {}
_mask_tables_lock = threading.Lock()


def mask_chunk(n: int, h_s: int, count: int) -> list[int]:
    """Worker task: `count` Paillier masks from a table rebuilt once per worker from (n, h_s)."""
    with _mask_tables_lock:
        table = _mask_tables.get((n, h_s))
        if table is None:
            _mask_tables.clear()
            table = table_for_base(PaillierPublicKey(n), h_s)
            _mask_tables[(n, h_s)] = table
    return generate_masks(table, count)


# --- backends ------------------------------------------------------------------------------------


class TaskFuture(Protocol[R_co]):
    """What a backend's submit returns (a concurrent.futures or a distributed Future)."""

    def result(self) -> R_co: ...

    def cancel(self) -> Any: ...


class Backend(Protocol):
    """Where tasks run: `submit` a top-level function and its arguments, `shutdown` at the end."""

    @property
    def workers(self) -> int: ...

    def submit(self, function: Callable[..., R], *arguments: object) -> TaskFuture[R]: ...

    def shutdown(self) -> None: ...


class LocalBackend:
    """A `spawn` process pool of `workers` processes on this machine."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        for future in [self._pool.submit(_warm_up) for _ in range(workers)]:
            future.result()

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, function: Callable[..., R], *arguments: object) -> TaskFuture[R]:
        return self._pool.submit(function, *arguments)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """The workers of a `dask.distributed` scheduler (its threads count as workers).

    Tasks are submitted with `pure=False`: two mask batches of the same size are different tasks
    (a pure task would be computed once and its masks handed out twice).
    """

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        try:
            distributed = importlib.import_module("distributed")
        except ImportError as error:  # pragma: no cover - depends on the installation
            raise RuntimeError(
                f"executor {address} needs dask.distributed: pip install 'dask[distributed]'"
            ) from error
        self.address = address
        try:
            self._client: Any = distributed.Client(address, timeout=timeout, set_as_default=False)
        except OSError as error:
            raise OSError(
                f"executor dask://{address.removeprefix('tcp://')}: no Dask scheduler answered "
                f"within {timeout:g} s ({error}); start one (dask scheduler --port PORT, see "
                'docs/OPERATIONS.md "A Dask cluster") or set executor = "local"'
            ) from error
        self._client.run(_warm_up)

    @property
    def workers(self) -> int:
        nthreads: dict[str, int] = self._client.nthreads()
        return max(1, sum(nthreads.values()))

    def submit(self, function: Callable[..., R], *arguments: object) -> TaskFuture[R]:
        future: TaskFuture[R] = self._client.submit(function, *arguments, pure=False)
        return future

    def shutdown(self) -> None:
        self._client.close()


# --- the executor ------------------------------------------------------------------------------


class CryptoExecutor:
    """Crypto tasks over chunks on a backend (default: a local pool), results in order."""

    def __init__(self, workers: int, backend: Backend | None = None) -> None:
        self._backend: Backend = backend if backend is not None else LocalBackend(workers)

    @property
    def workers(self) -> int:
        return self._backend.workers

    @property
    def backend(self) -> Backend:
        return self._backend

    def map_ordered(
        self, function: Callable[..., R], argument_tuples: Iterable[tuple[object, ...]]
    ) -> Iterator[R]:
        """Run `function(*args)` for each tuple, at most 2 x workers + 2 in flight, in order."""
        window: deque[TaskFuture[R]] = deque()
        limit = 2 * self.workers + 2
        try:
            for arguments in argument_tuples:
                window.append(self._backend.submit(function, *arguments))
                if len(window) >= limit:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def blind_elements(self, elements: Sequence[bytes], blinder: Blinder) -> Iterator[bytes]:
        """k * H(x) for all elements, chunk by chunk, in order."""
        return self.map_ordered(hash_and_blind_chunk, _element_chunks(blinder, elements))

    def blind_elements_keeping_hashes(
        self, elements: Sequence[bytes], blinder: Blinder
    ) -> Iterator[tuple[bytes, bytes]]:
        """(H(x), k * H(x)) chunk by chunk, in order: blinding that also yields the hashes."""
        return self.map_ordered(hash_and_blind_keeping_chunk, _element_chunks(blinder, elements))

    def blind_points(self, chunks: Iterable[bytes], blinder: Blinder) -> Iterator[bytes]:
        """k * P for each chunk of points, in order; errors name the point's stream position."""

        def arguments() -> Iterator[tuple[object, ...]]:
            index = 0
            for chunk in chunks:
                yield (blinder, chunk, index)
                index += len(chunk) // POINT_BYTES

        return self.map_ordered(blind_points_chunk, arguments())

    def aggregate(self, chunks: Iterable[IndicatorChunk]) -> Iterator[OwnerAggregate]:
        """Each chunk of indicators aggregated against its rows, in order."""
        return self.map_ordered(aggregate_chunk, ((chunk,) for chunk in chunks))

    def generate_masks(
        self, n: int, h_s: int, count: int, batch: int = MASK_BATCH
    ) -> Iterator[list[int]]:
        """`count` fresh Paillier masks for base h_s mod n^2, in batches of at most `batch`."""
        return self.map_ordered(
            mask_chunk,
            ((n, h_s, min(batch, count - start)) for start in range(0, count, batch)),
        )

    def shutdown(self) -> None:
        """Stop the local workers or disconnect from the cluster; pending work is dropped."""
        self._backend.shutdown()


def _element_chunks(blinder: Blinder, elements: Sequence[bytes]) -> Iterator[tuple[object, ...]]:
    """(blinder, chunk) task arguments over `elements`, CHUNK_ITEMS at a time."""
    for start in range(0, len(elements), CHUNK_ITEMS):
        yield (blinder, list(elements[start : start + CHUNK_ITEMS]))


def make_executor(spec: str, workers: int) -> CryptoExecutor:
    """The executor a config names: "local" (a pool of `workers`) or "dask://HOST:PORT"."""
    if spec == LOCAL:
        return CryptoExecutor(workers)
    address = dask_address(spec)
    if address is None:
        raise ValueError(f'executor must be "local" or "dask://HOST:PORT", got {spec!r}')
    return CryptoExecutor(workers, DaskBackend(address))
