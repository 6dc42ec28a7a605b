"""The coordinator's scheduler: runs each due schedule once per slot through the coordinator's
own query path (nodes' budgets and policies apply), and keeps every outcome in the history."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import grpc

from coordinator.history import HistoryStore, Run
from coordinator.schedules import Schedule
from coordinator.service import CoordinatorService
from runtime.signing import SignedQueryError
from wire.query_signer import QuerySigner
from wire.status import status_for
from wire.v1 import query_pb2

log = logging.getLogger("gongying.schedules")

Clock = Callable[[], datetime]
REFUSALS = (
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.INVALID_ARGUMENT,
)
DEFAULT_INTERVAL = 30.0
RETRY_AFTER = timedelta(minutes=15)  # a failed run (a node unreachable) is tried again
ATTEMPTS = 4  # at most this many times within its slot


def utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Runs `schedules` on `service`; `clock` gives the time (injectable for tests).

    A schedule is due when its latest slot (`Schedule.slot`) has no run in the history: at
    start-up the latest slot of each schedule runs, missed earlier slots are not back-filled.
    A refusal or failure is recorded as such and never stops the scheduler; a failed run is
    tried again RETRY_AFTER later, ATTEMPTS times in all within its slot (a refusal is not).
    """

    def __init__(
        self,
        service: CoordinatorService,
        schedules: Sequence[Schedule],
        store: HistoryStore,
        clock: Clock = utc_now,
    ) -> None:
        self.service = service
        self.schedules = tuple(schedules)
        self.store = store
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._signers: dict[str, QuerySigner | None] = {}

    def run_due(self) -> list[Run]:
        """Run every schedule whose current slot has no run yet; the runs made, in order."""
        made = []
        for schedule in self.schedules:
            now = self.clock()
            slot = schedule.slot(now)
            if not self.store.due(schedule.name, slot, now, RETRY_AFTER, ATTEMPTS):
                continue
            run = self.run_once(schedule, slot)
            if self.store.record(run):
                made.append(run)
        return made

    def run_once(self, schedule: Schedule, slot: datetime) -> Run:
        """Ask the query now; the outcome as a Run (not yet recorded)."""
        query_id = str(uuid.uuid4())
        try:
            signed = self._sign(schedule, query_id)
            if schedule.kind == "overlap":
                overlap = self.service.overlap(
                    schedule.parties,
                    schedule.id_type,
                    query_id,
                    schedule.timeout_seconds,
                    signed,
                )
                result, epsilon = overlap.to_json(), overlap.release.epsilon
            else:
                profile = self.service.profile(
                    schedule.querier,
                    schedule.owners,
                    schedule.attributes,
                    schedule.id_type,
                    query_id,
                    schedule.timeout_seconds,
                    signed,
                    audience=schedule.audience,
                )
                result, epsilon = profile.to_json(), 0.0
        except Exception as error:  # recorded and logged: a schedule never stops the others
            code = status_for(error)
            outcome = "refused" if code in REFUSALS else "failed"
            log.warning("schedule %s %s: %s", schedule.name, outcome, error)
            return self._run(schedule, slot, query_id, outcome, code.name, str(error))
        log.info("schedule %s released query %s", schedule.name, query_id)
        return self._run(schedule, slot, query_id, "released", None, None, epsilon, result)

    def _run(
        self,
        schedule: Schedule,
        slot: datetime,
        query_id: str,
        outcome: str,
        rule: str | None,
        error: str | None,
        epsilon: float = 0.0,
        result: dict[str, object] | None = None,
    ) -> Run:
        return Run(
            schedule=schedule.name,
            slot=slot,
            kind=schedule.kind,
            parties=schedule.parties,
            ran_at=self.clock(),
            query_id=query_id,
            outcome=outcome,
            rule=rule,
            error=error,
            epsilon=epsilon,
            result=result,
        )

    def _sign(self, schedule: Schedule, query_id: str) -> query_pb2.SignedQuery | None:
        """The query signed by its querier, when the schedule names a signing key."""
        if schedule.signing_key is None:
            return None
        if schedule.name not in self._signers:
            try:
                self._signers[schedule.name] = QuerySigner.from_file(
                    schedule.querier, schedule.signing_key
                )
            except (OSError, SignedQueryError) as error:
                raise SignedQueryError(
                    f"schedule {schedule.name}: signing_key {schedule.signing_key}: {error}"
                ) from None
        signer = self._signers[schedule.name]
        assert signer is not None
        return signer.sign(
            query_id,
            schedule.kind,
            schedule.parties,
            schedule.id_type,
            owners=schedule.owners,
            attributes=schedule.attributes,
            audience=schedule.audience,
        )

    def start(self, interval: float = DEFAULT_INTERVAL) -> None:
        """Check for due schedules every `interval` seconds in a background thread."""
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="gongying-scheduler", daemon=True
        )
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # the history database is down: try again next time
                log.exception("scheduler: could not run or record the due schedules")
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
