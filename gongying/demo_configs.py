"""The demo's deployment on loopback: each party's node.toml and policy, the coordinator.toml."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import pandas as pd

from client.sdk import CoordinatorClient, QuerySigner
from connectors.source_spec import SourceSpec
from gongying.demo_data import BRAND, RETAILERS
from gongying.demo_labels import ZH_CN
from gongying.demo_profile import ATTRIBUTES, DEMO_ATTRIBUTES
from gongying.launch import free_port
from runtime.certs import COORDINATOR, CertsError, init_certs
from runtime.config_writer import (
    PolicyTerms,
    Value,
    coordinator_table,
    node_table,
    policy_table,
    write_toml,
)
from runtime.tls import TLSFiles

ID_COLUMNS = ("email", "phone")


class DemoError(RuntimeError):
    """The demo cannot run as asked (bad data folder, a party that will not start, ...)."""


@dataclass(frozen=True)
class DemoLayout:
    """Where the demo keeps data, configs and logs, and the parties' addresses."""

    workdir: Path
    paths: dict[str, Path]
    node_addresses: dict[str, str]
    coordinator_address: str
    certs: Path | None = None

    def tls_for(self, party: str) -> TLSFiles | None:
        """`party`'s TLS files under the demo's certificate folder; None for plaintext."""
        if self.certs is None:
            return None
        return TLSFiles(
            self.certs / "ca.pem", self.certs / f"{party}.pem", self.certs / f"{party}.key"
        )

    @property
    def querier(self) -> str:
        """The party whose certificate the demo's queries present."""
        return BRAND if BRAND in self.paths else next(iter(self.paths))

    def client(self) -> CoordinatorClient:
        """A client of the demo's coordinator, over mutual TLS unless plaintext was asked; its
        queries are signed by the querier, as the nodes' policies require."""
        signer = (
            QuerySigner.from_file(self.querier, self.certs / f"{self.querier}.sign.key")
            if self.certs is not None
            else None
        )
        return CoordinatorClient(
            self.coordinator_address, self.tls_for(self.querier), signer=signer
        )


DEMO_MIN_COHORT = 5
EXAMPLE = "deploy/examples/policy.toml"


DEMO_EPSILON = 1.0
"""Epsilon per query in the demo's noised policies (a budget of 20 per 30 days)."""


def demo_policy(party: str, partners: list[str], exact: bool = False) -> dict[str, Value]:
    """A demo node's policy: every other party may ask overlap and profile queries on the demo's
    identifiers and attributes, with k = 5 and every other party allowed in its queries; noised
    (epsilon 1 per query) unless `exact`, which opts every partner into exact answers (logged
    at start-up) so that answers can be compared with the truth cell by cell."""
    noise: PolicyTerms = (
        {"exact": True}
        if exact
        else {"epsilon_per_query": DEMO_EPSILON, "epsilon_per_period": 20.0}
    )
    defaults: PolicyTerms = {
        "query_kinds": ["overlap", "profile"],
        "id_types": ["email", "phone"],
        "attributes": list(ATTRIBUTES),
        "min_cohort": DEMO_MIN_COHORT,
        "min_counterparty_set": 1,
        "queries_per_day": 1000,
        **noise,
        "co_parties": ["*"],
        "audiences": ["shared", "prospects", "base"],
    }
    terms: dict[str, PolicyTerms] = {
        partner: {"signing_key": f"../certs/{partner}.sign.pub"}
        for partner in partners
        if partner != party
    }
    return policy_table(terms, defaults)


def write_configs(
    workdir: Path,
    paths: dict[str, Path],
    paillier_bits: int | None = None,
    insecure_plaintext: bool = False,
    exact: bool = False,
) -> DemoLayout:
    """Write node.toml per party and coordinator.toml on free loopback ports; with mutual TLS
    (certificates from `certs init` in workdir/certs) unless `insecure_plaintext`; the policies
    are noised unless `exact`. With `paillier_bits` the retailers declare the demo's attributes
    and the brand holds a Paillier key of that size (for profile queries)."""
    config_dir = workdir / "configs"
    config_dir.mkdir(parents=True, exist_ok=True)
    certs = None if insecure_plaintext else workdir / "certs"
    if certs is not None:
        try:
            init_certs(certs, list(paths), days=7, overwrite=True)
        except CertsError as error:
            raise DemoError(f"cannot create demo certificates in {certs}: {error}") from None
    workers = max(1, min(os.cpu_count() or 1, 2))
    addresses: dict[str, str] = {}
    for party, path in paths.items():
        header = pd.read_csv(path, nrows=0).columns.tolist()
        address = f"127.0.0.1:{free_port()}"
        addresses[party] = address
        if certs is not None:
            policy = demo_policy(party, list(paths), exact)
            comment = f"Policy of {party}: who may ask what of its members (see {EXAMPLE})."
            write_toml(config_dir / f"{party}.policy.toml", policy, comment)
        querier = paillier_bits is not None and party == BRAND
        owner = bool(paillier_bits) and party in RETAILERS  # declares attributes and labels
        table = node_table(
            party,
            address,
            SourceSpec(kind="csv", path=str(path.resolve())),
            {c: c for c in ID_COLUMNS if c in header},
            workers=workers,
            default_region="CN",
            attributes=DEMO_ATTRIBUTES if owner else (),
            paillier_key=f"{BRAND}.paillier.json" if querier else None,
            paillier_bits=paillier_bits if querier else None,
            more={"labels": {"zh-CN": dict(ZH_CN)}} if owner else None,
            **_governed(certs, party),
        )
        write_toml(config_dir / f"{party}.toml", table)
    coordinator = f"127.0.0.1:{free_port()}"
    governed = _governed(certs, COORDINATOR)
    table = coordinator_table(
        coordinator,
        addresses,
        workers=None,
        tls=governed["tls"],
        signing_key=governed["signing_key"],
    )
    write_toml(config_dir / "coordinator.toml", table)
    return DemoLayout(workdir, paths, addresses, coordinator, certs)


class _Governance(TypedDict):
    tls: TLSFiles | None
    policy: str | None
    signing_key: str | None


def _governed(certs: Path | None, party: str) -> _Governance:
    """A demo party's TLS files, policy and signing key (relative to the configs folder); none
    of them in plaintext, where nodes answer unchecked (the writer says so, loudly)."""
    if certs is None:
        return {"tls": None, "policy": None, "signing_key": None}
    return {
        "tls": TLSFiles(
            Path("../certs/ca.pem"), Path(f"../certs/{party}.pem"), Path(f"../certs/{party}.key")
        ),
        "policy": None if party == COORDINATOR else f"{party}.policy.toml",
        "signing_key": f"../certs/{party}.sign.key",
    }
