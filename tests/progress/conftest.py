"""A deployment for the progress tests: brand (querier with a Paillier key) and the demo's
retailers (owners with attributes), and a coordinator with mask workers, on loopback gRPC."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coordinator.server import CoordinatorServer
from gongying.demo_data import RETAILERS, generate_demo_data
from tests.cluster import Cluster, demo_parties, start_cluster

PARTIES = ["brand", *RETAILERS]


@pytest.fixture(scope="package")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoordinatorServer]:
    folder = tmp_path_factory.mktemp("progress")
    data = generate_demo_data(folder / "data", members=300, seed=5)
    paths = {party: data.paths[party] for party in PARTIES}
    cluster: Cluster = start_cluster(folder, demo_parties(paths), secure=False)
    yield cluster.coordinator
    cluster.stop()
