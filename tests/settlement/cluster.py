"""A brand and three retailers on real gRPC over mutual TLS, accepting the test agreement.

Monthly member files are generated from a seed (the known truth)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from client.sdk import ClientTLS, CoordinatorClient, QuerySigner
from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from node.config import load_node_config
from node.server import NodeServer, start_node
from runtime.certs import COORDINATOR, CertSet, init_certs

BRAND = "brand"
RETAILERS = ("retailer_a", "retailer_b", "retailer_c")
PARTIES = (BRAND, *RETAILERS)
PEOPLE = 1200
K = 10
EPSILON = 1.0
HOLDS = {BRAND: 0.5, "retailer_a": 0.55, "retailer_b": 0.45, "retailer_c": 0.5}
REPEATS = {BRAND: 0.3, "retailer_a": 0.4, "retailer_b": 0.25, "retailer_c": 0.33}
MONTH_SEEDS = {"2026-09": 9, "2026-10": 10, "2026-11": 11}

ATTRIBUTES_TOML = """
[attributes.spend]
kind = "numeric"
lower = 0.0
upper = 1000.0

[attributes.repeat]
kind = "categorical"
domain = ["yes", "no"]
"""


def email(person: int) -> str:
    return f"member{person:05d}@example.cn"


def month_data(period: str) -> dict[str, pd.DataFrame]:
    """Each party's members in `period`: person, spend (whole yuan) and repeat (yes/no), from
    the month's seed; a person's spend and repeat differ per retailer and month."""
    rng = np.random.default_rng(MONTH_SEEDS[period])
    frames = {}
    for party in PARTIES:
        held = np.flatnonzero(rng.random(PEOPLE) < HOLDS[party])
        spend = rng.integers(0, 1001, size=len(held))
        repeat = np.where(rng.random(len(held)) < REPEATS[party], "yes", "no")
        frames[party] = pd.DataFrame({"person": held, "spend": spend, "repeat": repeat})
    return frames


def _policy(partner: str, others: Sequence[str], exact: bool, agreements: Sequence[str]) -> str:
    noise = (
        "exact = true\n"
        if exact
        else f"epsilon_per_query = {EPSILON}\nepsilon_per_period = 1000.0\n"
    )
    return f"""[partners.{partner}]
signing_key = "certs/{partner}.sign.pub"
query_kinds = ["overlap", "profile"]
id_types = ["email"]
attributes = ["spend", "repeat"]
min_cohort = {K}
min_counterparty_set = 100
queries_per_day = 1000
max_concurrent = 4
co_parties = [{", ".join(f'"{p}"' for p in others)}]
agreements = [{", ".join(f'"{h}"' for h in agreements)}]
{noise}"""


def _node_toml(party: str) -> str:
    extra = (
        '[paillier]\nkey_file = "brand.paillier.json"\nbits = 2048\n'
        if party == BRAND
        else ATTRIBUTES_TOML
    )
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
path = "data/{party}.csv"

[identifiers]
email = "email"

{extra}"""


def write_month(root: Path, period: str) -> dict[str, pd.DataFrame]:
    """The month's member files under root/data, one CSV per party; the frames written."""
    frames = month_data(period)
    for party, frame in frames.items():
        staging = root / "data" / f"{party}.tmp"
        with staging.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["email", "spend", "repeat"])
            for person, spend, repeat in zip(
                frame["person"], frame["spend"], frame["repeat"], strict=True
            ):
                writer.writerow([email(int(person)), int(spend), repeat])
        staging.replace(root / "data" / f"{party}.csv")
    return frames


@dataclass
class Cluster:
    """The running parties and where their files are."""

    root: Path
    certs: CertSet
    nodes: dict[str, NodeServer]
    coordinator: CoordinatorServer
    exact: bool

    def load_month(self, period: str) -> dict[str, pd.DataFrame]:
        """Write the month's member files (each node reloads a changed file); the truth."""
        return write_month(self.root, period)

    def audit_log(self, party: str) -> str:
        return str(self.root / f"{party}.audit.db")

    def client(self) -> CoordinatorClient:
        files = self.certs.parties[BRAND]
        return CoordinatorClient(
            self.coordinator.address,
            ClientTLS(self.certs.ca, files.cert, files.key),
            signer=QuerySigner.from_file(BRAND, files.sign_key),
        )

    def stop(self) -> None:
        self.coordinator.stop(grace=1.0)
        for node in self.nodes.values():
            node.stop(grace=1.0)


def build_cluster(root: Path, exact: bool, agreements: Sequence[str]) -> Cluster:
    """Start four nodes and the coordinator; every retailer accepts `agreements` for the brand
    (and the brand accepts them for each retailer)."""
    certs = init_certs(root / "certs", list(PARTIES), days=2)
    (root / "data").mkdir()
    policies = {
        BRAND: "\n".join(
            _policy(r, [p for p in RETAILERS if p != r], exact, agreements) for r in RETAILERS
        ),
        **{
            r: _policy(BRAND, [p for p in RETAILERS if p != r], exact, agreements)
            for r in RETAILERS
        },
    }
    nodes: dict[str, NodeServer] = {}
    try:
        for party in PARTIES:
            (root / f"{party}.policy.toml").write_text(policies[party])
            (root / f"{party}.toml").write_text(_node_toml(party))
        write_month(root, next(iter(MONTH_SEEDS)))
        for party in PARTIES:
            nodes[party] = start_node(load_node_config(root / f"{party}.toml"))
        coordinator = start_coordinator(
            CoordinatorConfig(
                listen="127.0.0.1:0",
                parties={p: n.address for p, n in nodes.items()},
                deadline_seconds=120,
                workers=1,
                tls=ClientTLS(
                    certs.ca, certs.parties[COORDINATOR].cert, certs.parties[COORDINATOR].key
                ),
                audit_log=str(root / "coordinator.audit.db"),
                signing_key=certs.parties[COORDINATOR].sign_key,
            )
        )
    except BaseException:
        for node in nodes.values():
            node.stop(grace=0)
        raise
    return Cluster(root, certs, nodes, coordinator, exact)
