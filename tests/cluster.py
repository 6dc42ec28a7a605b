"""One builder of test deployments: parties' data and policies, certificates, real nodes and a
coordinator on loopback gRPC (in this process or as `gongying ... serve` processes), the clients
and stubs tests call them with, and teardown.

Config files are written with runtime.config_writer and read back with the loaders a node
started from the command line uses, so every deployment also tests those. Nothing here runs at
import time: starting a node creates a spawn process pool.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from client.sdk import ClientTLS, CoordinatorClient, QuerySigner
from connectors.source_spec import SourceSpec
from coordinator.config import CoordinatorConfig, load_coordinator_config
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.demo_data import RETAILERS
from gongying.demo_profile import DEMO_ATTRIBUTES
from gongying.launch import LocalProcesses, free_port
from node.config import NodeConfig, load_node_config
from node.ledger import PrivacyLedger
from node.server import NodeServer, start_node
from protocols.paillier_attributes import Attribute
from runtime.audit import AuditLog, StoredRecord, open_audit_log
from runtime.certs import COORDINATOR, CertSet, init_certs
from runtime.config_writer import (
    PolicyTerms,
    Table,
    coordinator_table,
    node_table,
    policy_table,
    write_toml,
)
from runtime.serving import channel
from wire.v1 import coordinator_pb2_grpc, node_pb2_grpc

LOOPBACK = "127.0.0.1:0"
EMAIL = {"email": "email"}
EMAIL_PHONE = {"email": "email", "phone": "phone"}
EXACT: PolicyTerms = {  # exact answers (compared with the truth), with the exact-mode floor k = 5
    "query_kinds": ["overlap", "profile"],
    "id_types": ["email"],
    "min_cohort": 5,
    "min_counterparty_set": 1,
    "queries_per_day": 100000,
    "exact": True,
    "co_parties": ["*"],  # every party allowed in every query
}


@dataclass(frozen=True)
class Party:
    """One node: its members (a CSV path or a source), identifier columns (kind -> column),
    profilable attributes, a Paillier key of `paillier_bits` when it queries profiles, and its
    policy (`partners`, over `defaults`; each partner's query-signing key filled in)."""

    name: str
    data: Path | SourceSpec
    identifiers: Mapping[str, str] = field(default_factory=lambda: dict(EMAIL))
    attributes: Sequence[Attribute] = ()
    paillier_bits: int | None = None
    partners: Mapping[str, PolicyTerms] = field(default_factory=dict)
    defaults: PolicyTerms | None = None
    policy_text: str | None = None  # a policy.toml written as it is (instead of the above)
    fixed_port: bool = False  # listen on a port chosen up front, so it can restart in place
    config: NodeConfig | None = None  # started in process as it is, without a node.toml
    extra_toml: str = ""  # tables appended to the written node.toml (e.g. display labels)
    more: Table = field(default_factory=dict)  # node.toml keys as they are (e.g. psi_groups)

    @property
    def source(self) -> SourceSpec:
        if isinstance(self.data, SourceSpec):
            return self.data
        return SourceSpec(kind="csv", path=str(self.data))


def demo_parties(paths: Mapping[str, Path]) -> list[Party]:
    """Parties over the demo's files: the retailers own the demo attributes, every other party
    queries with a 2048-bit Paillier key."""
    return [
        Party(name, path, EMAIL_PHONE, DEMO_ATTRIBUTES)
        if name in RETAILERS
        else Party(name, path, EMAIL_PHONE, paillier_bits=2048)
        for name, path in paths.items()
    ]


@dataclass
class Cluster:
    """The running deployment and its files; `cert_set` is None for a plaintext one, and with
    `mutual_tls` false a governed one (policies, signing keys, audit logs) speaks plaintext."""

    root: Path
    parties: dict[str, Party]
    cert_set: CertSet | None
    listen: dict[str, str]
    nodes: dict[str, NodeServer] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # party -> nobody's address
    server: CoordinatorServer | None = None
    mutual_tls: bool = True
    coordinator_listen: str = LOOPBACK  # coordinator.toml's: a port chosen at its first start
    processes: LocalProcesses | None = None  # parties run as `gongying ... serve` processes
    _stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def certs(self) -> CertSet:
        """The development CA's files (a secure deployment's only)."""
        assert self.cert_set is not None, "a plaintext deployment has no certificates"
        return self.cert_set

    @property
    def coordinator(self) -> CoordinatorServer:
        assert self.server is not None, "the coordinator has not started"
        return self.server

    @property
    def address(self) -> str:
        """The coordinator's address, in this process or run as a process of its own."""
        if self.server is None and self.processes and "coordinator" in self.processes.processes:
            return self.coordinator_listen
        return self.coordinator.address

    def tls(self, party: str) -> ClientTLS | None:
        """`party`'s TLS files (None in a plaintext deployment)."""
        if self.cert_set is None or not self.mutual_tls:
            return None
        files = self.cert_set.parties[party]
        return ClientTLS(self.certs.ca, files.cert, files.key)

    def signer(self, party: str, key_of: str | None = None) -> QuerySigner:
        """`party` signing with its own key, or (to test forgery) with `key_of`'s."""
        return QuerySigner.from_file(party, self.certs.parties[key_of or party].sign_key)

    def client(
        self, party: str, signer: str | None = None, signed: bool = True
    ) -> CoordinatorClient:
        """A client presenting `party`'s certificate, its queries signed by `signer` (default:
        `party`) unless `signed` is false."""
        key = self.signer(signer or party) if signed and self.cert_set else None
        return CoordinatorClient(self.address, self.tls(party), signer=key)

    def coordinator_stub(self, party: str) -> coordinator_pb2_grpc.CoordinatorStub:
        return coordinator_pb2_grpc.CoordinatorStub(
            channel(self.address, self.tls(party), server_name=COORDINATOR)
        )

    def node_address(self, party: str) -> str:
        return self.nodes[party].address if party in self.nodes else self.listen[party]

    def node_stub(self, party: str) -> node_pb2_grpc.PartyNodeStub:
        """Call a node directly, as the coordinator (the only identity nodes answer)."""
        target = channel(self.node_address(party), self.tls(COORDINATOR), server_name=party)
        return node_pb2_grpc.PartyNodeStub(target)

    def config_path(self, party: str) -> Path:
        return self.root / f"{party}.toml"

    def start_node(self, party: str) -> NodeServer:
        """Start (or restart) `party`'s node from its node.toml."""
        config = self.parties[party].config or load_node_config(self.config_path(party))
        node = start_node(config, listen=self.listen[party])
        self.nodes[party] = node
        return node

    def stop_node(self, party: str) -> None:
        self.nodes.pop(party).stop(grace=1.0)

    def set_source(self, party: str, source: SourceSpec) -> Path:
        """Point `party`'s node.toml at `source` (read when the node next starts)."""
        self.parties[party] = replace(self.parties[party], data=source)
        return write_node(self, self.parties[party])

    def start_process(self, party: str) -> subprocess.Popen[bytes]:
        """Run `party`'s node as `gongying node serve` from its node.toml (a fixed port), once
        it is healthy."""
        return self._serve(party, "node", self.config_path(party), self.listen[party])

    def write_coordinator(
        self, deadline_seconds: float = 60, parties: Mapping[str, str] | None = None
    ) -> Path:
        """coordinator.toml routing to every node (and `parties` in their place), with an audit
        log and signing key when governed; its port, chosen the first time (as late as can be,
        so nothing else takes it meanwhile), stays, so that the coordinator restarts in place."""
        if self.coordinator_listen == LOOPBACK:
            self.coordinator_listen = f"127.0.0.1:{free_port()}"
        certs = self.cert_set
        table = coordinator_table(
            self.coordinator_listen,
            {
                **{p: self.node_address(p) for p in self.parties},
                **self.unreachable,
                **(parties or {}),
            },
            tls=self.tls(COORDINATOR),
            signing_key=certs.parties[COORDINATOR].sign_key if certs else None,
            audit_log=self.audit_path(COORDINATOR) if certs else None,
            deadline_seconds=deadline_seconds,
        )
        return write_toml(self.root / "coordinator.toml", table)

    def start_coordinator(
        self, deadline: float = 60.0, parties: Mapping[str, str] | None = None
    ) -> CoordinatorServer:
        """Start the coordinator in this process from a freshly written coordinator.toml."""
        config = load_coordinator_config(self.write_coordinator(deadline, parties))
        self.server = start_coordinator(config)
        return self.server

    def start_coordinator_process(self) -> subprocess.Popen[bytes]:
        """Run the coordinator as `gongying coordinator serve` (a fixed port), once healthy."""
        path = self.write_coordinator()
        return self._serve("coordinator", "coordinator", path, self.coordinator_listen)

    def _serve(self, name: str, role: str, config: Path, address: str) -> subprocess.Popen[bytes]:
        if self.processes is None:
            self.processes = LocalProcesses(self.root / "logs")
        self.processes.start(name, role, config, address)
        return self.processes.processes[name]

    def audit(self, party: str) -> AuditLog:
        log = (
            self.coordinator.service.audit
            if party == COORDINATOR
            else self.nodes[party].service.governance.audit
        )
        assert log is not None
        return log

    def audit_path(self, party: str) -> Path:
        return self.root / f"{party}.audit.db"

    def records(self, party: str, query_id: str) -> list[StoredRecord]:
        """`party`'s records of `query_id`: from its running log, else from its file."""
        running = self.server if party == COORDINATOR else self.nodes.get(party)
        if running is not None:
            return list(self.audit(party).records(query_id=query_id))
        with open_audit_log(str(self.audit_path(party))) as log:
            return list(log.records(query_id=query_id))

    def ledger(self, party: str) -> PrivacyLedger:
        ledger = self.nodes[party].service.governance.ledger
        assert ledger is not None
        return ledger

    def open_sessions(self) -> dict[str, int]:
        return {p: n.service.sessions.open_count() for p, n in self.nodes.items()}

    def stop(self) -> None:
        """Stop everything once (the closing checkpoints are written here)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self.server is not None:
            self.server.stop(grace=1.0)
        for node in self.nodes.values():
            node.stop(grace=1.0)
        self.nodes.clear()
        if self.processes is not None:
            self.processes.stop(grace=10.0)


def signed_terms(certs: CertSet, party: Party) -> dict[str, PolicyTerms]:
    """`party`'s partners' terms, each with the partner's query-verification key."""
    terms: dict[str, PolicyTerms] = {}
    for partner, own in party.partners.items():
        terms[partner] = {"signing_key": certs.parties[partner].sign_pub, **own}
    return terms


def write_node(cluster: Cluster, party: Party) -> Path:
    """`party`'s node.toml (and policy.toml when secure) under the cluster's root."""
    policy_path = signing_key = None
    if cluster.cert_set is not None:
        policy_path = cluster.root / f"{party.name}.policy.toml"
        signing_key = cluster.certs.parties[party.name].sign_key
        if party.policy_text is not None:
            policy_path.write_text(party.policy_text)
        else:
            write_toml(
                policy_path, policy_table(signed_terms(cluster.certs, party), party.defaults)
            )
    table = node_table(
        party.name,
        cluster.listen[party.name],
        party.source,
        party.identifiers,
        tls=cluster.tls(party.name),
        attributes=party.attributes,
        paillier_key=f"{party.name}.paillier.json" if party.paillier_bits else None,
        paillier_bits=party.paillier_bits,
        policy=policy_path,
        signing_key=signing_key,
        more=party.more,
    )
    path = write_toml(cluster.config_path(party.name), table)
    if party.extra_toml:
        path.write_text(path.read_text() + "\n" + party.extra_toml)
    return path


C = TypeVar("C", bound=Cluster)


def write_cluster(
    root: Path,
    parties: Sequence[Party],
    *,
    kind: type[C] = Cluster,  # type: ignore[assignment]
    secure: bool = True,
    mutual_tls: bool = True,
    identities: Sequence[str] = (),
    fields: Mapping[str, Any] | None = None,
) -> C:
    """Write every party's files under `root` (certificates, node.toml, policy.toml) and start
    nothing; `start_cluster` says what the arguments mean, `mutual_tls` false keeps a secure
    deployment's governance over plaintext."""
    root.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in parties]
    certs = init_certs(root / "certs", [*names, *identities], days=2) if secure else None
    listen = {p.name: f"127.0.0.1:{free_port()}" if p.fixed_port else LOOPBACK for p in parties}
    cluster = kind(root, {p.name: p for p in parties}, certs, listen, **(fields or {}))
    cluster.mutual_tls = mutual_tls
    for party in parties:
        if party.config is None:
            write_node(cluster, party)
    return cluster


def start_cluster(
    root: Path,
    parties: Sequence[Party],
    *,
    kind: type[C] = Cluster,  # type: ignore[assignment]
    secure: bool = True,
    identities: Sequence[str] = (),
    clients: Sequence[str] = (),
    acting_for: Mapping[str, tuple[str, ...]] | None = None,
    unreachable: Sequence[str] = (),
    deadline_seconds: float = 60,
    fields: Mapping[str, Any] | None = None,
    coordinator: Callable[[C], CoordinatorServer] | None = None,
) -> C:
    """Write every party's files under `root` and start its node, then the coordinator.

    `secure`: mutual TLS from one development CA (also issuing `identities`, e.g. a client
    listed in `clients`), a policy, signing key and audit log per node, and a coordinator with
    an audit log; otherwise plaintext without policies. `kind` is the Cluster subclass to
    return (a suite's own helpers on top). `unreachable` parties are known to the
    coordinator at a port nobody listens on; `fields` are the `kind`'s own. `coordinator`
    starts the coordinator instead (e.g. from a coordinator.toml with schedules).
    """
    cluster = write_cluster(
        root, parties, kind=kind, secure=secure, identities=identities, fields=fields
    )
    names = [p.name for p in parties]
    certs = cluster.cert_set
    try:
        with ThreadPoolExecutor(len(names) or 1) as starting:  # their pools warm up together
            list(starting.map(cluster.start_node, names))
        dead = {party: f"127.0.0.1:{free_port()}" for party in unreachable}
        cluster.unreachable = dead
        if coordinator is not None:
            cluster.server = coordinator(cluster)
            return cluster
        cluster.server = start_coordinator(
            CoordinatorConfig(
                listen=LOOPBACK,
                parties={**{p: cluster.node_address(p) for p in names}, **dead},
                deadline_seconds=deadline_seconds,
                workers=1,
                tls=cluster.tls(COORDINATOR),
                insecure_plaintext=not secure,
                clients=tuple(clients),
                acting_for=dict(acting_for or {}),
                audit_log=str(cluster.audit_path(COORDINATOR)) if secure else None,
                signing_key=certs.parties[COORDINATOR].sign_key if certs else None,
            )
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
