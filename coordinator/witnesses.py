"""The coordinator's side of witnessed audit logs: its signed head goes with every settle, and
the heads the nodes sign back go into its own audit record of the query."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from runtime.audit import AuditLog, SignedHead, Witness, signed_head


class WitnessBook:
    """Nodes' signed heads received at a query's settle, held until the query's record is
    written; and the coordinator's own head, signed at each settle and after each record."""

    def __init__(self, audit: AuditLog | None) -> None:
        self.audit = audit
        self._held: dict[str, list[Witness]] = {}
        self._lock = threading.Lock()

    def head(self) -> SignedHead | None:
        """The coordinator's log head, signed now (None without a signing log)."""
        return signed_head(self.audit)

    def keep(self, query_id: str, witnesses: Iterable[Witness | None]) -> None:
        """Hold the nodes' heads for `query_id`'s record (None: that node's log cannot sign)."""
        received = [witness for witness in witnesses if witness is not None]
        with self._lock:
            self._held.setdefault(query_id, []).extend(received)

    def take(self, query_id: str) -> tuple[Witness, ...]:
        """The heads held for `query_id`, by party, and forget them."""
        with self._lock:
            held = self._held.pop(query_id, [])
        return tuple(sorted(held, key=lambda witness: witness.head.party))
