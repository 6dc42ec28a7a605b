"""What the dashboard shows, read from the coordinator's own audit log, its schedule history and
the nodes' health: partners, queries and budget use, audit-log integrity, trends, scorecard."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from coordinator.config import CoordinatorConfig
from coordinator.dashboard_config import DIMENSIONS, DashboardSettings
from coordinator.dashboard_trends import EMPTY, Point, Trends, growth, overlap_trends
from coordinator.history import HistoryStore, Run, SettlementShare
from coordinator.node_client import Deadline, NodeClient
from model.errors import DeadlinePassed, PartyFailed
from runtime.audit import AuditError, AuditLog, SignedHead, StoredRecord, load_public_key

HEALTH_SECONDS = 3.0
TREND_DAYS = 14
VERIFY_EVERY = 300.0  # seconds between re-verifications of the coordinator's own log


@dataclass(frozen=True)
class Health:
    party: str
    address: str
    serving: bool
    latency_ms: float | None
    detail: str


@dataclass(frozen=True)
class Activity:
    """A partner's queries in the window as the coordinator logged them, and its budget use:
    the epsilon its node said it charged (witnessed at settle) against the agreed budget."""

    party: str
    queries: int
    released: int
    refused: int
    failed: int
    epsilon: float
    budget: float | None

    @property
    def headroom(self) -> float | None:
        return None if self.budget is None else max(0.0, 1.0 - self.epsilon / self.budget)


@dataclass(frozen=True)
class Integrity:
    """The signed log heads a partner's node gave the coordinator at settles: how many, the
    last, and whether they are consistent (sequence never goes back, one hash per seq)."""

    party: str
    witnessed: int
    last_seq: int | None
    last_time: datetime | None
    consistent: bool
    valid: int | None = None  # heads whose signature its key verifies (None: no key given)


@dataclass(frozen=True)
class OwnVerify:
    ok: bool
    records: int
    faults: int
    coverage: str
    verified_at: datetime


@dataclass(frozen=True)
class Dimension:
    name: str
    value: float | None
    trend: tuple[Point, ...]
    rating: str  # green | amber | red | none (no rule or nothing measured)


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    window_days: int
    health: tuple[Health, ...]
    activity: tuple[Activity, ...]
    integrity: tuple[Integrity, ...]
    own: OwnVerify | None
    runs: tuple[Run, ...]
    trends: Trends
    settlement: tuple[SettlementShare, ...]
    scorecard: tuple[Dimension, ...]


class Collector:
    """Builds snapshots; the coordinator's own log is verified at most every VERIFY_EVERY s."""

    def __init__(
        self,
        config: CoordinatorConfig,
        settings: DashboardSettings,
        nodes: dict[str, NodeClient],
        audit: AuditLog | None,
        store: HistoryStore,
    ) -> None:
        self.config, self.settings, self.nodes = config, settings, nodes
        self.audit, self.store = audit, store
        self._own: OwnVerify | None = None
        self._lock = threading.Lock()

    def snapshot(self, now: datetime) -> Snapshot:
        records = list(self.audit.records()) if self.audit is not None else []
        window = now - timedelta(days=self.settings.window_days)
        runs = self.store.runs()
        activity = activity_of(records, list(self.config.parties), self.settings.budgets, window)
        trends = overlap_trends(runs, self.config.schedules) if runs else EMPTY
        return Snapshot(
            now=now,
            window_days=self.settings.window_days,
            health=self._health(),
            activity=activity,
            integrity=integrity_of(records, list(self.config.parties), self._keys()),
            own=self._verify(now),
            runs=tuple(runs),
            trends=trends,
            settlement=tuple(self.store.settlement_shares()),
            scorecard=scorecard(records, trends, activity, self.settings, now),
        )

    def _keys(self) -> dict[str, Ed25519PublicKey | None]:
        """The partners' head keys (None for one that does not load: no head verifies)."""
        keys: dict[str, Ed25519PublicKey | None] = {}
        for party, path in self.settings.head_keys.items():
            try:
                keys[party] = load_public_key(path)
            except AuditError:
                keys[party] = None
        return keys

    def _health(self) -> tuple[Health, ...]:
        with ThreadPoolExecutor(max_workers=max(2, len(self.nodes))) as threads:
            return tuple(threads.map(_probe, self.nodes.values()))

    def _verify(self, now: datetime) -> OwnVerify | None:
        if self.audit is None:
            return None
        with self._lock:
            if self._own is None or (now - self._own.verified_at).total_seconds() > VERIFY_EVERY:
                report = self.audit.verify()
                self._own = OwnVerify(
                    report.ok, report.records, len(report.faults), report.coverage(), now
                )
            return self._own


def _probe(node: NodeClient) -> Health:
    started = time.monotonic()
    try:
        node.describe(Deadline(HEALTH_SECONDS))
    except (PartyFailed, DeadlinePassed) as error:
        return Health(node.party, node.address, False, None, str(error))
    elapsed = (time.monotonic() - started) * 1000
    return Health(node.party, node.address, True, elapsed, "")


def activity_of(
    records: Sequence[StoredRecord],
    parties: Sequence[str],
    budgets: dict[str, float],
    since: datetime,
) -> tuple[Activity, ...]:
    """Per partner: the queries that named it since `since`, by outcome, and its epsilon."""
    counts: dict[str, dict[str, int]] = {p: defaultdict(int) for p in parties}
    spent: dict[str, float] = dict.fromkeys(parties, 0.0)
    for stored in records:
        record = stored.record
        if record.time < since:
            continue
        for party in record.parties:
            if party in counts:
                counts[party][record.decision] += 1
        for witness in record.witnessed:
            if witness.head.party in spent and witness.epsilon is not None:
                spent[witness.head.party] += witness.epsilon
    return tuple(
        Activity(
            party=p,
            queries=sum(counts[p].values()),
            released=counts[p]["released"],
            refused=counts[p]["refused"],
            failed=counts[p]["failed"],
            epsilon=spent[p],
            budget=budgets.get(p),
        )
        for p in parties
    )


def integrity_of(
    records: Sequence[StoredRecord],
    parties: Sequence[str],
    keys: Mapping[str, Ed25519PublicKey | None] | None = None,
) -> tuple[Integrity, ...]:
    """Per partner, the witnessed heads in the coordinator's log, in log order; with its key,
    how many of their signatures verify."""
    keys = keys or {}
    heads: dict[str, list[tuple[int, str, datetime]]] = {p: [] for p in parties}
    valid = dict.fromkeys(keys, 0)
    for stored in records:
        for witness in stored.record.witnessed:
            head = witness.head
            if head.party in heads:
                heads[head.party].append((head.seq, head.hash, stored.record.time))
            if head.party in valid and _signed(keys[head.party], head):
                valid[head.party] += 1
    result = []
    for party in parties:
        seen = heads[party]
        hashes: dict[int, str] = {}
        consistent = True
        for index, (seq, digest, _) in enumerate(seen):
            if hashes.setdefault(seq, digest) != digest or (index and seq < seen[index - 1][0]):
                consistent = False
        last = seen[-1] if seen else None
        result.append(
            Integrity(
                party,
                len(seen),
                last[0] if last else None,
                last[2] if last else None,
                consistent,
                valid.get(party),
            )
        )
    return tuple(result)


def _signed(key: Ed25519PublicKey | None, head: SignedHead) -> bool:
    if key is None:
        return False
    try:
        key.verify(head.signature, head.message())
    except InvalidSignature:
        return False
    return True


def scorecard(
    records: Sequence[StoredRecord],
    trends: Trends,
    activity: Sequence[Activity],
    settings: DashboardSettings,
    now: datetime,
) -> tuple[Dimension, ...]:
    """Each dimension's current value, its trend, and its rating under the operators' rule."""
    days = [now - timedelta(days=TREND_DAYS - 1 - d) for d in range(TREND_DAYS)]
    refusals = []
    for day in days:
        today = [r.record for r in records if r.record.time.date() == day.date()]
        if today:
            rate = sum(r.decision == "refused" for r in today) / len(today)
            refusals.append(Point(_midnight(day), "", rate))
    since = now - timedelta(days=settings.window_days)
    in_window = [r.record for r in records if r.record.time >= since]
    refused = sum(r.decision == "refused" for r in in_window)
    headrooms = []
    for day in days:
        start = day - timedelta(days=settings.window_days)
        past = [r for r in records if r.record.time <= day]
        rooms = [
            a.headroom
            for a in activity_of(past, [a.party for a in activity], settings.budgets, start)
            if a.headroom is not None
        ]
        if rooms:
            headrooms.append(Point(_midnight(day), "", min(rooms)))
    current_rooms = [a.headroom for a in activity if a.headroom is not None]
    values: dict[str, tuple[float | None, tuple[Point, ...]]] = {
        "overlap_growth": (growth(trends.overlap_total), trends.overlap_total),
        "new_customer_reach": (trends.reach[-1].value if trends.reach else None, trends.reach),
        "budget_headroom": (min(current_rooms) if current_rooms else None, tuple(headrooms)),
        "refusal_rate": (refused / len(in_window) if in_window else None, tuple(refusals)),
    }
    dimensions = []
    for name in DIMENSIONS:
        value, trend = values[name]
        rule = settings.rules.get(name)
        dimensions.append(Dimension(name, value, trend, rule.rate(value) if rule else "none"))
    return tuple(dimensions)


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
