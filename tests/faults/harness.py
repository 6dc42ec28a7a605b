"""A governed three-party deployment written to disk by tests/cluster.py, run in-process or as
real processes.

Parties brand (querier, Paillier key), retailer_a and retailer_b (owners with attributes), each
with a policy (every other party a partner, k = 5, no noise), an audit log, a budget ledger and
a signing key; plaintext loopback (the transport is not what these tests exercise). The
coordinator has its own audit log. Queries are signed by brand.
"""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from connectors.source_spec import SourceSpec
from gongying.oracle import OverlapTruth, overlap_truth
from node.ledger import PrivacyLedger, Usage
from node.policy import load_policy
from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from runtime.config_writer import (
    PolicyTerms,
)
from tests.cluster import EXACT, Cluster, Party, write_cluster

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
PARTIES = (BRAND, RETAILER_A, RETAILER_B)
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
ATTRIBUTES = ("age_band", "spend")

ATTRIBUTE_SPECS = (
    CategoricalAttribute("age_band", AGE_BANDS),
    NumericAttribute("spend", 0.0, 1000.0, 1),
)


def email(person: int) -> str:
    return f"member{person:06d}@example.cn"


def members(size: int, seed: int = 5) -> dict[str, list[int]]:
    """Each party draws `size` people from a universe of 2 * size (so overlaps are large)."""
    rng = random.Random(seed)
    universe = range(2 * size)
    return {party: sorted(rng.sample(universe, size)) for party in PARTIES}


def truth(held: Mapping[str, list[int]], parties: Iterable[str]) -> OverlapTruth:
    return overlap_truth({p: {email(n) for n in held[p]} for p in parties})


def write_members(path: Path, persons: list[int]) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email", "age_band", "spend"])
        for person in persons:
            writer.writerow([email(person), AGE_BANDS[person % 4], person % 500])


def fault_parties(root: Path) -> list[Party]:
    """brand queries with a Paillier key, the retailers own the attributes; each holds exact
    policies (the fault tests compare answers with the truth) with the exact-mode floor k = 5
    (overlaps here are hundreds), no cap on concurrency that a load test would hit, and every
    other party a partner allowed in every query."""
    defaults: PolicyTerms = {**EXACT, "max_concurrent": 1000}
    return [
        Party(
            party,
            root / f"{party}.csv",
            attributes=ATTRIBUTE_SPECS if party != BRAND else (),
            paillier_bits=2048 if party == BRAND else None,
            partners={p: {"attributes": list(ATTRIBUTES)} for p in PARTIES if p != party},
            defaults=defaults,
            fixed_port=True,  # restarted in place, and run as processes
        )
        for party in PARTIES
    ]


def csv_source(path: Path) -> SourceSpec:
    return SourceSpec(kind="csv", path=str(path))


def paillier_key(folder: Path) -> Path:
    """A 2048-bit Paillier key file for brand (generated once per session, then copied)."""
    from node.querier_key import load_or_create_key

    path = folder / "brand.paillier.json"
    load_or_create_key(path, 2048)
    return path


@dataclass
class FaultCluster(Cluster):
    """The three parties' files on fixed ports, over plaintext (the faults are not about TLS);
    what runs, in this process or as processes, is up to the test."""

    held: dict[str, list[int]] = field(default_factory=dict)

    def usage(self, party: str, partner: str = BRAND) -> Usage:
        """A party's budget standing for `partner` (read from its ledger file)."""
        node = self.nodes.get(party)
        if node is not None and node.service.governance.ledger is not None:
            return node.service.governance.ledger.usage(partner)
        ledger = PrivacyLedger.open(
            str(self.root / f"{party}.ledger.db"), load_policy(self.root / f"{party}.policy.toml")
        )
        try:
            return ledger.usage(partner)
        finally:
            ledger.close()


def make_cluster(root: Path, key_file: Path, size: int, seed: int = 5) -> FaultCluster:
    """Write data, keys, policies and configs (nothing is started)."""
    root.mkdir(parents=True, exist_ok=True)
    held = members(size, seed)
    shutil.copy(key_file, root / "brand.paillier.json")
    for party in PARTIES:
        write_members(root / f"{party}.csv", held[party])
    return write_cluster(
        root,
        fault_parties(root),
        kind=FaultCluster,
        mutual_tls=False,
        fields={"held": held},
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def rpc_code(error: BaseException) -> grpc.StatusCode:
    assert isinstance(error, grpc.Call), error
    code: grpc.StatusCode = error.code()
    return code


def audit_verify(
    log: Path, public_key: Path, unsigned_tail: int = 0
) -> subprocess.CompletedProcess[str]:
    """`gongying audit verify --log LOG --public-key KEY` as an operator runs it, accepting
    `unsigned_tail` records after the last checkpoint (queries in flight when a node died)."""
    command = ["audit", "verify", "--log", str(log), "--public-key", str(public_key)]
    return subprocess.run(
        [sys.executable, "-m", "gongying", *command, "--allow-unsigned-tail", str(unsigned_tail)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def running_cluster(root: Path, key_file: Path, size: int) -> Iterator[FaultCluster]:
    """A written cluster with every node and the coordinator started in-process; stopped after."""
    running = make_cluster(root, key_file, size=size)
    try:
        for party in PARTIES:
            running.start_node(party)
        running.start_coordinator(deadline=30.0)
        yield running
    finally:
        running.stop()
