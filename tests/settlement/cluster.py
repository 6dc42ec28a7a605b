"""A brand and three retailers on real gRPC over mutual TLS, accepting the test agreement.

Monthly member files are generated from a seed (the known truth)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from runtime.config_writer import PolicyTerms
from tests.cluster import Cluster, Party, start_cluster

BRAND = "brand"
RETAILERS = ("retailer_a", "retailer_b", "retailer_c")
PARTIES = (BRAND, *RETAILERS)
PEOPLE = 1200
K = 10
EPSILON = 1.0
HOLDS = {BRAND: 0.5, "retailer_a": 0.55, "retailer_b": 0.45, "retailer_c": 0.5}
REPEATS = {BRAND: 0.3, "retailer_a": 0.4, "retailer_b": 0.25, "retailer_c": 0.33}
MONTH_SEEDS = {"2026-09": 9, "2026-10": 10, "2026-11": 11}

ATTRIBUTES = (
    NumericAttribute("spend", 0.0, 1000.0, 1),
    CategoricalAttribute("repeat", ("yes", "no")),
)


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


def _terms(others: Sequence[str], exact: bool, agreements: Sequence[str]) -> PolicyTerms:
    terms: PolicyTerms = {
        "query_kinds": ["overlap", "profile"],
        "id_types": ["email"],
        "attributes": ["spend", "repeat"],
        "min_cohort": K,
        "min_counterparty_set": 100,
        "queries_per_day": 1000,
        "max_concurrent": 4,
        "co_parties": list(others),
        "agreements": list(agreements),
    }
    if exact:
        return {**terms, "exact": True}
    return {**terms, "epsilon_per_query": EPSILON, "epsilon_per_period": 1000.0}


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
class Settling(Cluster):
    """The running parties, their files, and whether they answer exactly."""

    exact: bool = True

    def load_month(self, period: str) -> dict[str, pd.DataFrame]:
        """Write the month's member files (each node reloads a changed file); the truth."""
        return write_month(self.root, period)

    def audit_log(self, party: str) -> str:
        return str(self.root / f"{party}.audit.db")


def build_cluster(root: Path, exact: bool, agreements: Sequence[str]) -> Settling:
    """Start four nodes and the coordinator; every retailer accepts `agreements` for the brand
    (and the brand accepts them for each retailer)."""
    (root / "data").mkdir(parents=True)
    write_month(root, next(iter(MONTH_SEEDS)))

    def others(retailer: str) -> list[str]:
        return [p for p in RETAILERS if p != retailer]

    brand_terms = {r: _terms(others(r), exact, agreements) for r in RETAILERS}
    parties = [
        Party(BRAND, root / "data" / f"{BRAND}.csv", paillier_bits=2048, partners=brand_terms)
    ]
    for r in RETAILERS:
        data = root / "data" / f"{r}.csv"
        terms = {BRAND: _terms(others(r), exact, agreements)}
        parties.append(Party(r, data, attributes=ATTRIBUTES, partners=terms))
    fields = {"exact": exact}
    return start_cluster(root, parties, kind=Settling, deadline_seconds=120, fields=fields)
