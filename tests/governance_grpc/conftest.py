"""One governed deployment over real loopback gRPC with mutual TLS and signed queries.

Three parties (brand, retailer_a, retailer_b) with a policy, an SQLite audit log, a budget
ledger and a checkpoint-signing key each, and a coordinator with its own audit log. A client
`analyst` holds a certificate from the same CA but is listed in no node's policy.

Who may ask what, per owner (the node whose policy it is) and querier:

- brand answers retailer_a (overlap on email, 2 queries a day) and retailer_b (overlap, email).
- retailer_a answers brand (overlap and profile on email, attributes age_band and gender) and
  retailer_b (overlap on email, noised: epsilon 0.5 per query, 1.5 per period).
- retailer_b answers brand (overlap only, email and phone, counter-party sets of 100 or more)
  and retailer_a (the same, noised: epsilon 0.5 per query, 5.0 per period).

Every partner has k = 10, may have 8 queries open at once, and may name any co-party; the
partners without an epsilon are `exact = true` (their answers are compared exactly).

The data: 300 members per party, brand and retailer_a share 9 (k-1),
brand and retailer_b share 10 (k), retailer_a and retailer_b share 60; 3 are in all three sets.
brand and retailer_a hold phone numbers for only 40 members (below retailer_b's
min_counterparty_set of 100); retailer_b holds one for every member.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from connectors.identifiers import NormalisationProfile
from gongying.oracle import OverlapTruth, overlap_truth
from protocols.paillier_attributes import CategoricalAttribute
from runtime.certs import party_files
from runtime.config_writer import node_table, toml_text
from runtime.tls import TLSFiles
from tests.cluster import EMAIL_PHONE, LOOPBACK, Cluster, Party, start_cluster
from wire.v1 import node_pb2

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
PARTIES = (BRAND, RETAILER_A, RETAILER_B)
ANALYST = "analyst"
K = 10
MEMBERS = 300
SHARED = {  # exclusive regions of the people the parties share
    frozenset(PARTIES): 3,
    frozenset({BRAND, RETAILER_A}): 6,  # brand ∩ retailer_a = 9 = k - 1
    frozenset({BRAND, RETAILER_B}): 7,  # brand ∩ retailer_b = 10 = k
    frozenset({RETAILER_A, RETAILER_B}): 57,  # retailer_a ∩ retailer_b = 60
}
FEW_PHONES = {BRAND: 40, RETAILER_A: 40, RETAILER_B: MEMBERS}
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
GENDERS = ("f", "m")

_CARRIAGE = """
[defaults]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 10
min_counterparty_set = 50
queries_per_day = 1000
max_concurrent = 8
co_parties = ["*"]
"""

POLICIES = {
    BRAND: _CARRIAGE
    + """
[partners.retailer_a]
signing_key = "certs/retailer_a.sign.pub"
queries_per_day = 2
exact = true

[partners.retailer_b]
signing_key = "certs/retailer_b.sign.pub"
exact = true
""",
    RETAILER_A: _CARRIAGE
    + """
[partners.brand]
signing_key = "certs/brand.sign.pub"
query_kinds = ["overlap", "profile"]
attributes = ["age_band", "gender"]
exact = true

[partners.retailer_b]
signing_key = "certs/retailer_b.sign.pub"
epsilon_per_period = 1.5
epsilon_per_query = 0.5
""",
    RETAILER_B: _CARRIAGE
    + """
[partners.brand]
signing_key = "certs/brand.sign.pub"
id_types = ["email", "phone"]
min_counterparty_set = 100
exact = true

[partners.retailer_a]
signing_key = "certs/retailer_a.sign.pub"
id_types = ["email", "phone"]
min_counterparty_set = 100
epsilon_per_period = 5.0
epsilon_per_query = 0.5
""",
}


def members() -> dict[str, list[int]]:
    """Person numbers per party: the shared regions first, then each party's own members."""
    held: dict[str, list[int]] = {p: [] for p in PARTIES}
    person = 0
    for region, count in SHARED.items():
        for _ in range(count):
            for party in sorted(region):
                held[party].append(person)
            person += 1
    for party in PARTIES:
        while len(held[party]) < MEMBERS:
            held[party].append(person)
            person += 1
    return held


def email(person: int) -> str:
    return f"member{person:05d}@example.cn"


def write_data(folder: Path) -> dict[str, Path]:
    """One CSV per party: email, phone (for the first FEW_PHONES members), age band, gender."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for party, persons in members().items():
        path = folder / f"{party}.csv"
        with path.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["email", "phone", "age_band", "gender"])
            for index, person in enumerate(persons):
                phone = f"139{person:08d}" if index < FEW_PHONES[party] else ""
                writer.writerow([email(person), phone, AGE_BANDS[person % 4], GENDERS[person % 2]])
        paths[party] = path
    return paths


def truth(parties: list[str]) -> OverlapTruth:
    """The overlap of the parties' email sets, by construction."""
    held = members()
    return overlap_truth({p: {email(n) for n in held[p]} for p in parties})


@dataclass(frozen=True)
class Expected:
    """What every party's audit log must say about one query."""

    query_id: str
    parties: tuple[str, ...]
    outcome: str  # "released" or "refused"
    refusing: tuple[str, ...] = ()  # nodes that refused it (with `rule`)
    rule: str = ""
    via_coordinator: bool = True
    # the nodes the coordinator asked: all parties unless the querier's own node (opened
    # first, for its set's fingerprint) refused, when no other node was asked
    asked: tuple[str, ...] | None = None


@dataclass
class Governed(Cluster):
    """The running deployment, its files, and the queries the tests expect to find audited."""

    expected: list[Expected] = field(default_factory=list)

    def expect(self, item: Expected) -> None:
        with self._lock:
            self.expected.append(item)

    def log_path(self, party: str) -> Path:
        return self.root / f"{party}.audit.db"


ATTRIBUTES = (CategoricalAttribute("age_band", AGE_BANDS), CategoricalAttribute("gender", GENDERS))


def party(name: str, data: Path, policy: str | None = None) -> Party:
    """A governed party: brand queries profiles (its Paillier key), retailer_a has attributes."""
    return Party(
        name,
        data,
        EMAIL_PHONE,
        attributes=ATTRIBUTES if name == RETAILER_A else (),
        paillier_bits=2048 if name == BRAND else None,
        policy_text=policy,
    )


def node_toml(name: str, data: Path) -> str:
    """`name`'s node.toml, its files (certs/, the policy) relative to the config's folder."""
    certs = party_files(Path("certs"), name)
    spec = party(name, data)
    return toml_text(
        node_table(
            name,
            LOOPBACK,
            spec.source,
            EMAIL_PHONE,
            tls=TLSFiles(Path("certs/ca.pem"), certs.cert, certs.key),
            policy=f"{name}.policy.toml",
            signing_key=certs.sign_key,
            attributes=spec.attributes,
            paillier_key=f"{name}.paillier.json" if spec.paillier_bits else None,
            paillier_bits=spec.paillier_bits,
        )
    )


def open_request(
    query_id: str, parties: list[str], id_type: str = "email"
) -> node_pb2.OpenSessionRequest:
    """The OpenSession request the coordinator sends for an overlap query."""
    return node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=node_pb2.QUERY_KIND_OVERLAP,
        id_type=id_type,
        profile_version=NormalisationProfile().label(),
        parties=parties,
        role=node_pb2.SESSION_ROLE_MEMBER,
    )


def deploy(root: Path, policies: dict[str, str] | None = None) -> Governed:
    """Start the three governed nodes (with `policies`, POLICIES by default) and the
    coordinator, with their files under `root`."""
    paths = write_data(root / "data")
    parties = [party(p, paths[p], (policies or POLICIES)[p]) for p in PARTIES]
    return start_cluster(root, parties, kind=Governed, identities=[ANALYST], clients=[ANALYST])


@pytest.fixture(scope="package")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    deployment = deploy(tmp_path_factory.mktemp("governed"))
    yield deployment
    deployment.stop()


def rpc_code(error: grpc.RpcError) -> grpc.StatusCode:
    assert isinstance(error, grpc.Call)
    code: grpc.StatusCode = error.code()
    return code


_STRICT = """
[defaults]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 10
min_counterparty_set = 50
queries_per_day = 1000
"""

CAPPED_POLICIES = {  # noised by default; caps, co-parties and windows under attack
    BRAND: _STRICT
    + """
[partners.retailer_a]
signing_key = "certs/retailer_a.sign.pub"
exact = true
queries_per_day = 2

[partners.retailer_b]
signing_key = "certs/retailer_b.sign.pub"
epsilon_per_query = 0.5
epsilon_per_period = 1.0
""",
    RETAILER_A: _STRICT
    + """
[partners.brand]
signing_key = "certs/brand.sign.pub"
query_kinds = ["overlap", "profile"]
attributes = ["age_band", "gender"]
epsilon_per_query = 0.5
epsilon_per_period = 1.5
queries_per_day = 4

[partners.retailer_b]
signing_key = "certs/retailer_b.sign.pub"
max_set_size = 250
""",
    RETAILER_B: _STRICT
    + """
[partners.brand]
signing_key = "certs/brand.sign.pub"
epsilon_per_period = 100.0
co_parties = ["retailer_a"]

[partners.retailer_a]
signing_key = "certs/retailer_a.sign.pub"
epsilon_per_period = 100.0
""",
}


@pytest.fixture(scope="package")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    """A second deployment, its policies in CAPPED_POLICIES (each test uses its own partner
    and node pair there, so the tests do not share a budget):

    - brand answers retailer_a exactly (2 queries a day) and retailer_b noised (0.5 of 1.0).
    - retailer_a answers brand's profiles noised (0.5 of 1.5, 4 a day) and retailer_b with
      the defaults but a set of at most 250 (retailer_b holds 300).
    - retailer_b answers brand (consenting to retailer_a as co-party) and retailer_a, both
      noised with the default epsilon per query, at most 2 queries open at once.
    """
    deployment = deploy(tmp_path_factory.mktemp("capped"), CAPPED_POLICIES)
    yield deployment
    deployment.stop()
