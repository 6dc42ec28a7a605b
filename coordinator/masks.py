"""Paillier masks for indicator encryption: a pool per querier key, filled by worker processes.

Masks come from `protocols.masks` (fixed base h_s, short exponent, precomputed table). A mask is
handed out once and lives only in memory, so none can be reused, not even after a restart. After a
query the pool is refilled in the background to the size the last query needed (a warm pool).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

from protocols.masks import (
    MaskPool,
    MaskTable,
    build_mask_table,
    generate_masks,
    table_for_base,
)
from protocols.paillier import PaillierPublicKey

BATCH = 2048


_worker_tables: dict[tuple[int, int], MaskTable] = {}


def _generate(n: int, h_s: int, count: int) -> list[int]:
    """Worker task: masks from a table rebuilt once per worker from (n, h_s), not pickled."""
    table = _worker_tables.get((n, h_s))
    if table is None:
        _worker_tables.clear()
        table = table_for_base(PaillierPublicKey(n), h_s)
        _worker_tables[(n, h_s)] = table
    return generate_masks(table, count)


class MaskSupply:
    """Fresh masks per public key; the worker pool uses spawn and is created before the server."""

    def __init__(self, workers: int, refill_limit: int = 2_000_000) -> None:
        self.workers = workers
        self.refill_limit = refill_limit
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._pools: dict[bytes, MaskPool] = {}
        self._tables: dict[bytes, MaskTable] = {}
        self._lock = threading.Lock()
        self._refilling: set[bytes] = set()

    def _pool(self, public_key: PaillierPublicKey) -> tuple[MaskPool, MaskTable]:
        fingerprint = public_key.fingerprint()
        with self._lock:
            if fingerprint not in self._pools:
                table = build_mask_table(public_key)
                self._tables[fingerprint] = table
                self._pools[fingerprint] = MaskPool(public_key)
            return self._pools[fingerprint], self._tables[fingerprint]

    def available(self, public_key: PaillierPublicKey) -> int:
        """Masks ready in the pool for this key."""
        return len(self._pool(public_key)[0])

    def generate(self, public_key: PaillierPublicKey, count: int) -> list[int]:
        """`count` brand-new masks made in the worker processes."""
        _, table = self._pool(public_key)
        sizes = [min(BATCH, count - start) for start in range(0, count, BATCH)]
        masks: list[int] = []
        n, h_s = [table.n] * len(sizes), [table.h_s] * len(sizes)
        for batch in self._executor.map(_generate, n, h_s, sizes):
            masks.extend(batch)
        return masks

    def take(self, public_key: PaillierPublicKey, count: int) -> list[int]:
        """`count` masks: from the pool first, the rest made now."""
        pool, _ = self._pool(public_key)
        ready = min(count, len(pool))
        masks = pool.take(ready) if ready else []
        if count > ready:
            masks.extend(self.generate(public_key, count - ready))
        return masks

    def fill(self, public_key: PaillierPublicKey, target: int) -> None:
        """Make masks until the pool holds `target` (capped at `refill_limit`)."""
        pool, _ = self._pool(public_key)
        missing = min(target, self.refill_limit) - len(pool)
        if missing > 0:
            pool.fill(self.generate(public_key, missing))

    def refill_in_background(self, public_key: PaillierPublicKey, target: int) -> None:
        """Start filling the pool to `target` in a thread, unless one is already at it."""
        fingerprint = public_key.fingerprint()
        with self._lock:
            if fingerprint in self._refilling:
                return
            self._refilling.add(fingerprint)

        def work() -> None:
            try:
                self.fill(public_key, target)
            except RuntimeError:
                pass  # the executor was shut down while refilling
            finally:
                with self._lock:
                    self._refilling.discard(fingerprint)

        threading.Thread(target=work, name="mask-refill", daemon=True).start()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
