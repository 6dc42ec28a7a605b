"""A governed three-party deployment written to disk, run in-process or as real processes.

Parties brand (querier, Paillier key), retailer_a and retailer_b (owners with attributes), each
with a policy (every other party a partner, k = 1, no noise), an audit log, a budget ledger and
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from client.sdk import CoordinatorClient, QuerySigner
from connectors.source_spec import SourceSpec
from coordinator.config import CoordinatorConfig, load_coordinator_config
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.launch import LocalProcesses, free_port
from gongying.oracle import OverlapTruth, overlap_truth
from node.config import load_node_config
from node.ledger import PrivacyLedger, Usage
from node.policy import load_policy
from node.server import NodeServer, start_node
from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from runtime.audit import AuditLog, StoredRecord, open_audit_log
from runtime.certs import CertSet, init_certs
from runtime.config_writer import (
    PolicyTerms,
    coordinator_table,
    node_table,
    policy_table,
    toml_text,
    write_toml,
)
from runtime.serving import channel
from tests.cluster import EXACT
from wire.v1 import coordinator_pb2_grpc, node_pb2_grpc

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


def policy_toml(party: str) -> str:
    """Exact answers (the fault tests compare them with the truth) with the exact-mode floor
    k = 5 (overlaps here are hundreds), no cap on concurrency that a load test would hit, and
    every party allowed in every query."""
    defaults: PolicyTerms = {**EXACT, "max_concurrent": 1000}
    partners: dict[str, PolicyTerms] = {
        partner: {"signing_key": f"certs/{partner}.sign.pub", "attributes": list(ATTRIBUTES)}
        for partner in PARTIES
        if partner != party
    }
    return toml_text(policy_table(partners, defaults))


def node_toml(party: str, port: int, source: SourceSpec) -> str:
    """A node with a policy and signing key, over plaintext (the faults are not about TLS)."""
    table = node_table(
        party,
        f"127.0.0.1:{port}",
        source,
        {"email": "email"},
        policy=f"{party}.policy.toml",
        signing_key=f"certs/{party}.sign.key",
        attributes=ATTRIBUTE_SPECS if party != BRAND else (),
        paillier_key="brand.paillier.json" if party == BRAND else None,
        paillier_bits=2048 if party == BRAND else None,
    )
    return toml_text(table)


def csv_source(path: Path) -> SourceSpec:
    return SourceSpec(kind="csv", path=str(path))


def paillier_key(folder: Path) -> Path:
    """A 2048-bit Paillier key file for brand (generated once per session, then copied)."""
    from node.querier_key import load_or_create_key

    path = folder / "brand.paillier.json"
    load_or_create_key(path, 2048)
    return path


@dataclass
class Cluster:
    """Config files for the three parties and the coordinator; what runs is up to the test."""

    root: Path
    certs: CertSet
    held: dict[str, list[int]]
    ports: dict[str, int]
    nodes: dict[str, NodeServer] = field(default_factory=dict)
    processes: LocalProcesses | None = None
    coordinator: CoordinatorServer | None = None
    coordinator_port: int = 0

    # -- configs ---------------------------------------------------------------------------
    def config_path(self, party: str) -> Path:
        return self.root / f"{party}.toml"

    def address(self, party: str) -> str:
        return f"127.0.0.1:{self.ports[party]}"

    @property
    def coordinator_address(self) -> str:
        return f"127.0.0.1:{self.coordinator_port}"

    def set_source(self, party: str, source: SourceSpec) -> None:
        self.config_path(party).write_text(node_toml(party, self.ports[party], source))

    def coordinator_config(self, deadline: float = 60.0) -> CoordinatorConfig:
        table = coordinator_table(
            f"127.0.0.1:{self.coordinator_port}",
            {p: self.address(p) for p in PARTIES},
            deadline_seconds=deadline,
            signing_key="certs/coordinator.sign.key",
        )
        return load_coordinator_config(write_toml(self.root / "coordinator.toml", table))

    # -- running ---------------------------------------------------------------------------
    def start_inprocess(self, party: str) -> NodeServer:
        node = start_node(load_node_config(self.config_path(party)))
        self.nodes[party] = node
        return node

    def start_process(self, party: str) -> subprocess.Popen[bytes]:
        if self.processes is None:
            self.processes = LocalProcesses(self.root / "logs")
        self.processes.start(party, "node", self.config_path(party), self.address(party))
        return self.processes.processes[party]

    def start_coordinator(
        self, deadline: float = 60.0, parties: Mapping[str, str] | None = None
    ) -> CoordinatorServer:
        config = self.coordinator_config(deadline)
        if parties is not None:
            config = CoordinatorConfig(
                **{**config.__dict__, "parties": {**config.parties, **parties}}
            )
        self.coordinator = start_coordinator(config)
        return self.coordinator

    def start_coordinator_process(self) -> subprocess.Popen[bytes]:
        self.coordinator_config()
        if self.processes is None:
            self.processes = LocalProcesses(self.root / "logs")
        self.processes.start(
            "coordinator",
            "coordinator",
            self.root / "coordinator.toml",
            self.coordinator_address,
        )
        return self.processes.processes["coordinator"]

    def client(self, address: str | None = None) -> CoordinatorClient:
        signer = QuerySigner.from_file(BRAND, self.certs.parties[BRAND].sign_key)
        if address is None:
            assert self.coordinator is not None
            address = self.coordinator.address
        return CoordinatorClient(address, signer=signer)

    def coordinator_stub(self) -> coordinator_pb2_grpc.CoordinatorStub:
        assert self.coordinator is not None
        return coordinator_pb2_grpc.CoordinatorStub(channel(self.coordinator.address))

    def node_stub(self, party: str) -> node_pb2_grpc.PartyNodeStub:
        return node_pb2_grpc.PartyNodeStub(channel(self.address(party)))

    def stop(self) -> None:
        if self.coordinator is not None:
            self.coordinator.stop(grace=1.0)
            self.coordinator = None
        for node in self.nodes.values():
            node.stop(grace=1.0)
        self.nodes.clear()
        if self.processes is not None:
            self.processes.stop(grace=10.0)

    # -- what the parties kept ----------------------------------------------------------------
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

    def audit_path(self, party: str) -> Path:
        return self.root / f"{party}.audit.db"

    def records(self, party: str, query_id: str) -> list[StoredRecord]:
        node = self.nodes.get(party)
        audit: AuditLog | None = None
        if node is not None:
            audit = node.service.governance.audit
        elif party == "coordinator" and self.coordinator is not None:
            audit = self.coordinator.service.audit
        if audit is not None:
            return list(audit.records(query_id=query_id))
        with open_audit_log(str(self.audit_path(party))) as opened:
            return list(opened.records(query_id=query_id))


def make_cluster(root: Path, key_file: Path, size: int, seed: int = 5) -> Cluster:
    """Write data, keys, policies and configs (nothing is started)."""
    root.mkdir(parents=True, exist_ok=True)
    certs = init_certs(root / "certs", list(PARTIES), days=2)
    held = members(size, seed)
    ports = {p: free_port() for p in PARTIES}
    cluster = Cluster(root, certs, held, ports, coordinator_port=free_port())
    shutil.copy(key_file, root / "brand.paillier.json")
    for party in PARTIES:
        data = root / f"{party}.csv"
        write_members(data, held[party])
        (root / f"{party}.policy.toml").write_text(policy_toml(party))
        cluster.set_source(party, csv_source(data))
    return cluster


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
