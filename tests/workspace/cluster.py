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
from node.config import load_node_config
from node.server import NodeServer, start_node
from runtime.certs import init_certs

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
PARTIES = (BRAND, RETAILER_A, RETAILER_B)
USER, PASSWORD = "ops", "correct horse battery"
MONTHS = tuple(datetime(2026, month, 1, 3, tzinfo=UTC) for month in (9, 10, 11))
BUDGET_B = 2.0  # retailer_b's agreed epsilon budget on the dashboard

_DEFAULTS = """
[defaults]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 5
min_counterparty_set = 10
queries_per_day = 1000
max_concurrent = 8
co_parties = ["*"]
"""
POLICIES = {
    BRAND: _DEFAULTS + '[partners.retailer_a]\nsigning_key = "certs/retailer_a.sign.pub"\n'
    "exact = true\n",
    RETAILER_A: _DEFAULTS + '[partners.brand]\nsigning_key = "certs/brand.sign.pub"\n'
    "exact = true\n",
    RETAILER_B: _DEFAULTS
    + '[partners.brand]\nsigning_key = "certs/brand.sign.pub"\nexact = true\n\n'
    '[partners.retailer_a]\nsigning_key = "certs/retailer_a.sign.pub"\n'
    "epsilon_per_query = 0.5\nepsilon_per_period = 1.0\n",
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


def node_toml(party: str, data: Path) -> str:
    return f"""party = "{party}"
listen = "127.0.0.1:0"
workers = 1
policy = "{party}.policy.toml"
signing_key = "certs/{party}.sign.key"

[tls]
ca = "certs/ca.pem"
cert = "certs/{party}.pem"
key = "certs/{party}.key"

[source]
kind = "csv"
path = "{data / (party + ".csv")}"

[identifiers]
email = "email"
"""


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
class Workspace:
    root: Path
    nodes: dict[str, NodeServer]
    coordinator: CoordinatorServer
    clock: FakeClock
    truths: list[OverlapTruth] = field(default_factory=list)  # per month, brand/a/b
    made: list[list[Run]] = field(default_factory=list)  # the runs each month's tick made
    repeat: list[Run] = field(default_factory=list)  # a second tick at month 1's time

    @property
    def url(self) -> str:
        dashboard = self.coordinator.workspace.dashboard
        assert dashboard is not None
        return dashboard.url

    def stop(self) -> None:
        self.coordinator.stop(grace=1.0)
        for node in self.nodes.values():
            node.stop(grace=1.0)


def run_workspace(root: Path, history: str | None = None) -> Workspace:
    """Start everything, run the three months, and return the running workspace."""
    init_certs(root / "certs", PARTIES, days=2)
    data = root / "data"
    data.mkdir()
    sets = write_month(data, 1)
    nodes: dict[str, NodeServer] = {}
    try:
        for party in PARTIES:
            (root / f"{party}.policy.toml").write_text(POLICIES[party])
            (root / f"{party}.toml").write_text(node_toml(party, data))
            nodes[party] = start_node(load_node_config(root / f"{party}.toml"))
        set_user(root / "dashboard.users.toml", USER, PASSWORD)
        config_path = root / "coordinator.toml"
        addresses = {p: n.address for p, n in nodes.items()}
        config_path.write_text(coordinator_toml(addresses, history or "history.db"))
        clock = FakeClock(MONTHS[0])
        coordinator = start_coordinator(
            load_coordinator_config(config_path),
            workspace_options={"clock": clock, "schedule_interval": None},
        )
    except BaseException:
        for node in nodes.values():
            node.stop(grace=0)
        raise
    workspace = Workspace(root, nodes, coordinator, clock)
    scheduler = coordinator.workspace.scheduler
    assert scheduler is not None
    for month, moment in enumerate(MONTHS, start=1):
        if month > 1:
            sets = write_month(data, month)
        workspace.truths.append(overlap_truth({p: sets[p] for p in PARTIES}))
        clock.now = moment
        workspace.made.append(scheduler.run_due())
        if month == 1:
            workspace.repeat = scheduler.run_due()
    return workspace
