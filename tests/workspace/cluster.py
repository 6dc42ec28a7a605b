"""A brand and two retailers over real loopback gRPC with mutual TLS, policies and signed queries,
and a coordinator (loaded from its coordinator.toml) with schedules, a history and a dashboard.

Three months run on a fake clock: each month the retailers' member files change (the brand's
overlap with each grows), the monthly overlap schedule (brand, retailer_a, retailer_b; exact)
and the daily retailer_a-retailer_b schedule (noised by retailer_b: epsilon 0.5 a query, 1.0
a period) are due; the third daily run exceeds retailer_b's budget and is refused. A schedule
without a signing key is refused by the nodes every time. The oracle is the files' email sets.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from coordinator.config import load_coordinator_config
from coordinator.dashboard_users import set_user
from coordinator.history import Run
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.oracle import OverlapTruth, overlap_truth
from runtime.config_writer import PolicyTerms
from tests.cluster import Cluster, Party, start_cluster

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
PARTIES = (BRAND, RETAILER_A, RETAILER_B)
USER, PASSWORD = "ops", "correct horse battery"
MONTHS = tuple(datetime(2026, month, 1, 3, tzinfo=UTC) for month in (9, 10, 11))
BUDGET_B = 2.0  # retailer_b's agreed epsilon budget on the dashboard

DEFAULTS: PolicyTerms = {
    "query_kinds": ["overlap"],
    "id_types": ["email"],
    "min_cohort": 5,
    "min_counterparty_set": 10,
    "queries_per_day": 1000,
    "max_concurrent": 8,
    "co_parties": ["*"],
}
EXACT: PolicyTerms = {"exact": True}
PARTNERS: dict[str, dict[str, PolicyTerms]] = {
    BRAND: {RETAILER_A: EXACT},
    RETAILER_A: {BRAND: EXACT},
    RETAILER_B: {BRAND: EXACT, RETAILER_A: {"epsilon_per_query": 0.5, "epsilon_per_period": 1.0}},
}


def persons(party: str, month: int) -> list[int]:
    """Who is a member of `party` in month 1, 2 or 3."""
    if party == BRAND:
        return list(range(400))
    if party == RETAILER_A:  # every region of the three sets has at least 30 members
        return list(range(200 - 30 * month, 330)) + list(range(400, 600))
    return list(range(300, 360 + 10 * month)) + list(range(550, 700))


def email(person: int) -> str:
    return f"member{person:05d}@example.cn"


def write_month(data: Path, month: int) -> dict[str, set[str]]:
    """Every party's CSV for `month`; the email sets written."""
    sets = {}
    for party in PARTIES:
        emails = [email(n) for n in persons(party, month)]
        with (data / f"{party}.csv").open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["email"])
            writer.writerows([e] for e in emails)
        sets[party] = set(emails)
    return sets


def coordinator_toml(addresses: dict[str, str], history: str) -> str:
    parties = "\n".join(f'{p} = "{a}"' for p, a in addresses.items())
    return f"""listen = "127.0.0.1:0"
workers = 1
deadline_seconds = 60
audit_log = "coordinator.audit.db"
signing_key = "certs/coordinator.sign.key"
history = "{history}"

[tls]
ca = "certs/ca.pem"
cert = "certs/coordinator.pem"
key = "certs/coordinator.key"

[parties]
{parties}

[schedules.monthly_overlap]
every = "monthly"
day = 1
at = "02:00"
kind = "overlap"
parties = ["brand", "retailer_a", "retailer_b"]
querier = "brand"
signing_key = "certs/brand.sign.key"

[schedules.ab_daily]
every = "daily"
kind = "overlap"
parties = ["retailer_a", "retailer_b"]
signing_key = "certs/retailer_a.sign.key"

[schedules.unsigned]
every = "weekly"
day = 2
kind = "overlap"
parties = ["brand", "retailer_b"]

[dashboard]
listen = "127.0.0.1:0"
users = "dashboard.users.toml"
lang = "en"

[dashboard.budgets]
retailer_b = {BUDGET_B}

[dashboard.head_keys]  # retailer_b's is not given
brand = "certs/brand.sign.pub"
retailer_a = "certs/retailer_a.sign.pub"

[dashboard.scorecard.refusal_rate]
better = "lower"
green = 0.05
amber = 0.5

[dashboard.scorecard.overlap_growth]
better = "higher"
green = 0.2
amber = 0.0
"""


class FakeClock:
    """The scheduler's time, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Workspace(Cluster):
    clock: FakeClock = field(default_factory=lambda: FakeClock(MONTHS[0]))
    truths: list[OverlapTruth] = field(default_factory=list)  # per month, brand/a/b
    made: list[list[Run]] = field(default_factory=list)  # the runs each month's tick made
    repeat: list[Run] = field(default_factory=list)  # a second tick at month 1's time

    @property
    def url(self) -> str:
        dashboard = self.coordinator.workspace.dashboard
        assert dashboard is not None
        return dashboard.url


def run_workspace(root: Path, history: str | None = None) -> Workspace:
    """Start everything, run the three months, and return the running workspace."""
    data = root / "data"
    data.mkdir(parents=True)
    sets = write_month(data, 1)

    def start(workspace: Workspace) -> CoordinatorServer:
        """The coordinator from its coordinator.toml, on the workspace's clock."""
        set_user(root / "dashboard.users.toml", USER, PASSWORD)
        config_path = root / "coordinator.toml"
        addresses = {p: workspace.node_address(p) for p in PARTIES}
        config_path.write_text(coordinator_toml(addresses, history or "history.db"))
        options = {"clock": workspace.clock, "schedule_interval": None}
        return start_coordinator(load_coordinator_config(config_path), workspace_options=options)

    parties = [
        Party(p, data / f"{p}.csv", partners=PARTNERS[p], defaults=DEFAULTS) for p in PARTIES
    ]
    workspace = start_cluster(root, parties, kind=Workspace, coordinator=start)
    scheduler = workspace.coordinator.workspace.scheduler
    assert scheduler is not None
    for month, moment in enumerate(MONTHS, start=1):
        if month > 1:
            sets = write_month(data, month)
        workspace.truths.append(overlap_truth({p: sets[p] for p in PARTIES}))
        workspace.clock.now = moment
        workspace.made.append(scheduler.run_due())
        if month == 1:
            workspace.repeat = scheduler.run_due()
    return workspace
