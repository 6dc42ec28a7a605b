"""A deployment for the progress tests: brand (querier with a Paillier key) and the demo's
retailers (owners with attributes), and a coordinator with mask workers, on loopback gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.demo_data import RETAILERS, generate_demo_data
from gongying.demo_profile import attributes_toml
from node.config import load_node_config
from node.server import NodeServer, start_node

PARTIES = ["brand", *RETAILERS]


def _config(folder: Path, party: str, path: Path, extra: str) -> Path:
    config = folder / f"{party}.toml"
    config.write_text(
        f'party = "{party}"\nlisten = "127.0.0.1:0"\nworkers = 1\n'
        "insecure_plaintext = true\ninsecure_no_policy = true\n"
        f'[source]\nkind = "csv"\npath = "{path}"\n'
        '[identifiers]\nemail = "email"\nphone = "phone"\n' + extra
    )
    return config


@pytest.fixture(scope="package")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoordinatorServer]:
    folder = tmp_path_factory.mktemp("progress")
    data = generate_demo_data(folder / "data", members=300, seed=5)
    nodes: dict[str, NodeServer] = {}
    try:
        for party in PARTIES:
            extra = (
                attributes_toml()
                if party in RETAILERS
                else f'[paillier]\nkey_file = "{party}.paillier.json"\nbits = 2048\n'
            )
            config = load_node_config(_config(folder, party, data.paths[party], extra))
            nodes[party] = start_node(config)
        server = start_coordinator(
            CoordinatorConfig(
                listen="127.0.0.1:0",
                parties={p: n.address for p, n in nodes.items()},
                workers=1,
                insecure_plaintext=True,
            )
        )
        yield server
        server.stop(grace=1.0)
    finally:
        for node in nodes.values():
            node.stop(grace=1.0)
