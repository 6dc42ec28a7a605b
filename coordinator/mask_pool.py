"""Paillier masks for indicator encryption: a pool per querier key, filled by worker processes.

Masks come from `protocols.masks` (fixed base h_s, short exponent, precomputed table). A mask is
handed out once and lives only in memory, so none can be reused, not even after a restart. After a
query the pool is refilled in the background to the size the last query needed (a warm pool).
The masks are made by a `runtime.executor.CryptoExecutor` (a local spawn pool or a Dask cluster, per
the coordinator's `executor` key); each worker rebuilds the table once from (n, h_s).
A key is checked (`protocols.querier_keys.check_querier_modulus`) before any mask is made for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from protocols.masks import MaskPool, MaskTable, build_mask_table
from protocols.paillier import PaillierPublicKey
from protocols.querier_keys import MIN_QUERIER_KEY_BITS, check_querier_modulus
from runtime.executor import MASK_BATCH, CryptoExecutor

BATCH = MASK_BATCH


class MaskSupply:
    """Fresh masks per public key, made by an executor created before the server starts.

    Without `executor`, a local spawn pool of `workers` processes is created (and owned).
    """

    def __init__(
        self,
        workers: int,
        refill_limit: int = 2_000_000,
        executor: CryptoExecutor | None = None,
        min_key_bits: int = MIN_QUERIER_KEY_BITS,
    ) -> None:
        self.min_key_bits = min_key_bits
        self._executor = executor if executor is not None else CryptoExecutor(workers)
        self.workers = self._executor.workers
        self.refill_limit = refill_limit
        self._pools: dict[bytes, MaskPool] = {}
        self._tables: dict[bytes, MaskTable] = {}
        self._lock = threading.Lock()
        self._refilling: set[bytes] = set()
        self._closed = False

    def _pool(self, public_key: PaillierPublicKey) -> tuple[MaskPool, MaskTable]:
        fingerprint = public_key.fingerprint()
        with self._lock:
            if fingerprint not in self._pools:
                check_querier_modulus(public_key.n, self.min_key_bits)
                table = build_mask_table(public_key)
                self._tables[fingerprint] = table
                self._pools[fingerprint] = MaskPool(public_key)
            return self._pools[fingerprint], self._tables[fingerprint]

    def available(self, public_key: PaillierPublicKey) -> int:
        """Masks ready in the pool for this key."""
        return len(self._pool(public_key)[0])

    def generate(
        self,
        public_key: PaillierPublicKey,
        count: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[int]:
        """`count` brand-new masks made in the worker processes; `progress(n)` per batch."""
        _, table = self._pool(public_key)
        masks: list[int] = []
        for batch in self._executor.generate_masks(table.n, table.h_s, count, BATCH):
            masks.extend(batch)
            if progress is not None:
                progress(len(batch))
        return masks

    def take(
        self,
        public_key: PaillierPublicKey,
        count: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[int]:
        """`count` masks: from the pool first, the rest made now; `progress(n)` reports masks
        as they are ready (those from the pool at once, then each batch made)."""
        pool, _ = self._pool(public_key)
        ready = min(count, len(pool))
        masks = pool.take(ready) if ready else []
        if ready and progress is not None:
            progress(ready)
        if count > ready:
            masks.extend(self.generate(public_key, count - ready, progress))
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
            except Exception:
                if not self._closed:  # otherwise the executor was shut down while refilling
                    raise
            finally:
                with self._lock:
                    self._refilling.discard(fingerprint)

        threading.Thread(target=work, name="mask-refill", daemon=True).start()

    def shutdown(self) -> None:
        self._closed = True
        self._executor.shutdown()
