"""An arena for a curious brand: real nodes over mutual TLS, the brand's list under its control.

Parties: brand (the querier: Paillier key, its own list rewritten by the adversary before each
query), retailer_a (owner with age_band and spend) and retailer_b. Each retailer's policy is the
careful one from issue 11 (min_cohort 10, min_counterparty_set 100, epsilon_per_query 0.25),
noised unless the arena is built `exact`; brand may bring the other retailer into its queries
(`co_parties`). The per-period budget is large enough for the repeated trials a test runs: each
trial is one adversary within its own budget of queries; that the ledger stops an adversary at
its stated number of queries is shown separately (test_budget.py).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.sdk import ClientTLS, CoordinatorClient, QuerySigner
from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from node.config import load_node_config
from node.server import NodeServer, start_node
from runtime.certs import COORDINATOR, CertSet, init_certs

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
PARTIES = (BRAND, RETAILER_A, RETAILER_B)
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
RETAILER_MEMBERS = 400
EPSILON = 0.25
K = 10
MIN_SET = 100


def email(person: int) -> str:
    return f"person{person:06d}@example.cn"


def retailer_people() -> dict[str, list[int]]:
    """retailer_a holds people 0..399, retailer_b 200..599 (200 in both)."""
    return {
        RETAILER_A: list(range(RETAILER_MEMBERS)),
        RETAILER_B: list(range(RETAILER_MEMBERS // 2, RETAILER_MEMBERS // 2 + RETAILER_MEMBERS)),
    }


def age_band(person: int) -> str:
    return AGE_BANDS[(person * 7) % 4]


def success_bound(epsilon: float) -> float:
    """The best any test can do telling two neighbouring inputs apart with equal priors under
    epsilon-DP: e^epsilon / (1 + e^epsilon)."""
    return math.exp(epsilon) / (1 + math.exp(epsilon))


def slack(trials: int, p: float = 0.5) -> float:
    """Three binomial standard deviations of an observed success rate over `trials`."""
    return 3 * math.sqrt(p * (1 - p) / trials)


def _write_csv(path: Path, people: Sequence[int], emails: Sequence[str] = ()) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email", "age_band", "spend"])
        for person in people:
            writer.writerow([email(person), age_band(person), (person * 37) % 1000])
        for address in emails:
            writer.writerow([address, "", ""])


def _policy(partner_of: str, others: Sequence[str], exact: bool) -> str:
    noise = (
        "exact = true\n"
        if exact
        else f"epsilon_per_query = {EPSILON}\nepsilon_per_period = 1000.0\n"
    )
    co = ", ".join(f'"{p}"' for p in others)
    return f"""[partners.{partner_of}]
signing_key = "certs/{partner_of}.sign.pub"
query_kinds = ["overlap", "profile"]
id_types = ["email"]
attributes = ["age_band", "spend"]
min_cohort = {K}
min_counterparty_set = {MIN_SET}
queries_per_day = 100000
max_concurrent = 4
max_set_size = 5000
co_parties = [{co}]
{noise}"""


ATTRIBUTES_TOML = """
[attributes.age_band]
kind = "categorical"
domain = ["18-24", "25-34", "35-44", "45+"]

[attributes.spend]
kind = "numeric"
lower = 0.0
upper = 1000.0
"""


@dataclass
class Arena:
    """The running deployment and the adversary's levers."""

    root: Path
    certs: CertSet
    nodes: dict[str, NodeServer]
    coordinator: CoordinatorServer
    exact: bool

    def brand_list(self, people: Sequence[int] = (), invented: Sequence[str] = ()) -> None:
        """The adversary rewrites its own member file (the node reloads a changed file)."""
        path = self.root / "data" / f"{BRAND}.csv"
        staging = path.with_suffix(".tmp")
        _write_csv(staging, people, invented)
        staging.replace(path)

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


def invented(count: int, tag: str) -> list[str]:
    """Emails nobody holds, for padding."""
    return [f"nobody-{tag}-{i}@invented.cn" for i in range(count)]


def _node_toml(party: str, data: Path, owner_toml: str = "") -> str:
    extra = ""
    if party == BRAND:
        extra = '[paillier]\nkey_file = "brand.paillier.json"\nbits = 2048\n'
    else:
        extra = ATTRIBUTES_TOML + owner_toml
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
path = "{data}"

[identifiers]
email = "email"

{extra}"""


def build_arena(root: Path, exact: bool, owner_toml: Mapping[str, str] | None = None) -> Arena:
    """Start the three nodes and the coordinator under the careful policies; `owner_toml`
    adds tables to a retailer's node.toml (e.g. its display labels)."""
    certs = init_certs(root / "certs", list(PARTIES), days=2)
    (root / "data").mkdir()
    people = retailer_people()
    for retailer in (RETAILER_A, RETAILER_B):
        _write_csv(root / "data" / f"{retailer}.csv", people[retailer])
    _write_csv(root / "data" / f"{BRAND}.csv", list(range(0, 600, 3)))
    policies = {
        BRAND: _policy(RETAILER_A, [RETAILER_B], exact)
        + "\n"
        + _policy(RETAILER_B, [RETAILER_A], exact),
        RETAILER_A: _policy(BRAND, [RETAILER_B], exact),
        RETAILER_B: _policy(BRAND, [RETAILER_A], exact),
    }
    nodes: dict[str, NodeServer] = {}
    try:
        for party in PARTIES:
            (root / f"{party}.policy.toml").write_text(policies[party])
            config = root / f"{party}.toml"
            extra = (owner_toml or {}).get(party, "")
            config.write_text(_node_toml(party, root / "data" / f"{party}.csv", extra))
            nodes[party] = start_node(load_node_config(config))
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
    return Arena(root, certs, nodes, coordinator, exact)


@pytest.fixture(scope="module")
def noised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = build_arena(tmp_path_factory.mktemp("noised-arena"), exact=False)
    yield arena
    arena.stop()


@pytest.fixture(scope="module")
def exact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = build_arena(tmp_path_factory.mktemp("exact-arena"), exact=True)
    yield arena
    arena.stop()
