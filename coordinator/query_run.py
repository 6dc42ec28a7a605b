"""One query from its first check to its audit record, the same for every query kind.

A `QueryRun` registers the query's progress, settles the release at every node (each charges and
logs it, and signs its audit-log head back) before anything is returned, and writes the
coordinator's own record; when anything fails it tells every node (which refunds what it
reserved, or keeps what it already released charged), marks the progress failed and records the
failure or refusal. Each query kind writes only its protocol between `begin` and `release`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from types import TracebackType

import grpc

from coordinator.node_client import Deadline, NodeClient, Settlement
from coordinator.progress import ProgressRegistry
from coordinator.witnesses import WitnessBook
from model.errors import DeadlinePassed, PartyFailed, PartyMisconfigured
from runtime.audit import AuditLog, AuditRecord, SignedHead
from wire.status import status_for

SETTLE_FAILED_WAIT = 1.0
"""Seconds the querier's error waits for nodes to log a failure; stragglers finish behind it."""

REFUSALS = (
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.INVALID_ARGUMENT,
)


class QueryRun:
    """The life of one query at the coordinator; use as a context manager around its protocol."""

    def __init__(
        self,
        audit: AuditLog | None,
        witnesses: WitnessBook,
        progress: ProgressRegistry,
        query_id: str,
        kind: str,
        requester: str,
        parties: Sequence[str],
        attributes: Sequence[str] = (),
    ) -> None:
        self.audit = audit
        self.witnesses = witnesses
        self.progress = progress
        self.query_id = query_id
        self.fields = dict(
            query_id=query_id,
            kind=kind,
            requester=requester or "(unknown)",
            parties=tuple(p or "(empty)" for p in parties),  # a malformed request is logged too
            attributes=tuple(a or "(empty)" for a in attributes),
        )
        self.nodes: Mapping[str, NodeClient] = {}
        self.started = time.monotonic()
        self._released: tuple[dict[str, int], int, float] | None = None

    def begin(self, steps: Sequence[str], totals: Mapping[str, int]) -> QueryRun:
        """Register the query's steps for watchers; the clock runs from construction."""
        self.progress.begin(self.query_id, tuple(steps), dict(totals))
        return self

    def __enter__(self) -> QueryRun:
        return self

    def release(
        self,
        deadline: Deadline,
        answer: str,
        released: dict[str, int],
        suppressed: int,
        epsilon: float,
    ) -> None:
        """Every node charges and logs the release before anything is returned; each gets the
        coordinator's signed audit-log head and signs its own back (kept for our record)."""
        head = self.witnesses.head()
        with ThreadPoolExecutor(max_workers=max(2, len(self.nodes))) as threads:
            futures = [
                threads.submit(
                    node.settle,
                    self.query_id,
                    "released",
                    deadline,
                    answer,
                    released,
                    suppressed,
                    "",
                    head,
                )
                for node in self.nodes.values()
            ]
            settled = [future.result() for future in futures]
        self.witnesses.keep(self.query_id, (s.witness for s in settled))
        self._released = (released, suppressed, epsilon)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None and self._released is not None:
            self.progress.finish(self.query_id)
            released, suppressed, epsilon = self._released
            self._append(
                decision="released", released=released, suppressed=suppressed, epsilon=epsilon
            )
            return
        failure = error or RuntimeError("the query ended without a release")
        self.progress.finish(self.query_id, failed=True)
        self._settle_failed(failure)
        code = status_for(failure)
        self._append(
            decision="refused" if code in REFUSALS else "failed",
            rule=code.name,
            error=str(failure) or type(failure).__name__,
        )

    def _settle_failed(self, error: BaseException) -> None:
        """Best effort: every node logs the failure and refunds what it reserved."""
        if not self.nodes:
            return
        message = str(error) or type(error).__name__
        head = self.witnesses.head()
        threads = ThreadPoolExecutor(max_workers=max(2, len(self.nodes)))
        settling = [
            threads.submit(_settle_quietly, node, self.query_id, message, head)
            for node in self.nodes.values()
        ]
        # a stalled node must not hold the querier's error back: wait briefly, then leave the
        # stragglers to finish (or time out) in the background; the node also expires the session
        done, _ = wait(settling, timeout=SETTLE_FAILED_WAIT)
        threads.shutdown(wait=False)
        received = (future.result() for future in done if future.exception() is None)
        self.witnesses.keep(self.query_id, (s.witness for s in received if s is not None))

    def _append(self, **outcome: object) -> None:
        """Write the record, with the heads the nodes signed at settle, then sign our head."""
        witnessed = self.witnesses.take(self.query_id)
        if self.audit is None:
            return
        self.audit.append(
            AuditRecord(
                time=datetime.now(UTC),
                party="coordinator",
                duration_ms=int((time.monotonic() - self.started) * 1000),
                witnessed=witnessed,
                **self.fields,  # type: ignore[arg-type]
                **outcome,  # type: ignore[arg-type]
            )
        )
        self.witnesses.head()


def _settle_quietly(
    node: NodeClient, query_id: str, message: str, head: SignedHead | None
) -> Settlement | None:
    # else the node expires the session and logs it
    with contextlib.suppress(PartyFailed, PartyMisconfigured, DeadlinePassed):
        return node.settle(query_id, "failed", Deadline(30.0), error=message, head=head)
    return None
