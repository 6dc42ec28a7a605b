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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.sdk import CoordinatorClient
from protocols.paillier_attributes import Attribute, CategoricalAttribute, NumericAttribute
from runtime.config_writer import PolicyTerms
from tests.cluster import Cluster, Party, start_cluster

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


def _terms(
    others: Sequence[str], exact: bool, allowed: Sequence[str] = ("age_band", "spend")
) -> PolicyTerms:
    """The careful terms of issue 11 for one partner, bringing `others` into its queries and
    letting it profile the `allowed` attributes."""
    terms: PolicyTerms = {
        "query_kinds": ["overlap", "profile"],
        "id_types": ["email"],
        "attributes": list(allowed),
        "min_cohort": K,
        "min_counterparty_set": MIN_SET,
        "queries_per_day": 100000,
        "max_concurrent": 4,
        "max_set_size": 5000,
        "co_parties": list(others),
    }
    noise: PolicyTerms = (
        {"exact": True} if exact else {"epsilon_per_query": EPSILON, "epsilon_per_period": 1000.0}
    )
    return {**terms, **noise}


ATTRIBUTES = (
    CategoricalAttribute("age_band", AGE_BANDS),
    NumericAttribute("spend", 0.0, 1000.0, 1),
)


@dataclass
class Arena(Cluster):
    """The running deployment and the adversary's levers."""

    exact: bool = False

    def brand_list(self, people: Sequence[int] = (), invented: Sequence[str] = ()) -> None:
        """The adversary rewrites its own member file (the node reloads a changed file)."""
        path = self.root / "data" / f"{BRAND}.csv"
        staging = path.with_suffix(".tmp")
        _write_csv(staging, people, invented)
        staging.replace(path)

    def client(
        self, party: str = BRAND, signer: str | None = None, signed: bool = True
    ) -> CoordinatorClient:
        """The brand's client (by default), signing its queries."""
        return super().client(party, signer, signed)


def invented(count: int, tag: str) -> list[str]:
    """Emails nobody holds, for padding."""
    return [f"nobody-{tag}-{i}@invented.cn" for i in range(count)]


def build_arena(
    root: Path,
    exact: bool,
    audiences: Sequence[str] = (),
    owner_toml: Mapping[str, str] | None = None,
    write_csv: Callable[[Path, Sequence[int]], None] = _write_csv,
    attributes: Sequence[Attribute] = (),
) -> Arena:
    """Start the three nodes and the coordinator under the careful policies; `audiences`:
    whom retailer_a lets the brand's profiles describe (besides the default, shared only);
    `owner_toml` adds tables to a retailer's node.toml (e.g. its display labels); `write_csv`
    writes the member files, and `attributes` are declared and allowed besides ATTRIBUTES."""
    (root / "data").mkdir(parents=True)
    people = retailer_people()
    for retailer in (RETAILER_A, RETAILER_B):
        write_csv(root / "data" / f"{retailer}.csv", people[retailer])
    write_csv(root / "data" / f"{BRAND}.csv", list(range(0, 600, 3)))
    declared = (*ATTRIBUTES, *attributes)
    allowed = [a.name for a in declared]
    to_brand: PolicyTerms = {"audiences": list(audiences)} if audiences else {}
    partners: dict[str, dict[str, PolicyTerms]] = {
        BRAND: {
            RETAILER_A: _terms([RETAILER_B], exact, allowed),
            RETAILER_B: _terms([RETAILER_A], exact, allowed),
        },
        RETAILER_A: {BRAND: {**_terms([RETAILER_B], exact, allowed), **to_brand}},
        RETAILER_B: {BRAND: _terms([RETAILER_A], exact, allowed)},
    }
    parties = [
        Party(
            party,
            root / "data" / f"{party}.csv",
            attributes=() if party == BRAND else declared,
            paillier_bits=2048 if party == BRAND else None,
            partners=partners[party],
            extra_toml=(owner_toml or {}).get(party, ""),
        )
        for party in PARTIES
    ]
    arena = start_cluster(root, parties, kind=Arena, deadline_seconds=120)
    arena.exact = exact
    return arena


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
