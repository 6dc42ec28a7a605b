"""In-process deployments for integration tests: nodes and a coordinator on loopback gRPC.

Nothing here runs at import time: starting a node creates a spawn process pool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from connectors.errors import ConnectorError
from connectors.identifiers import ColumnKind, IdType, NormalisationProfile, normalise
from connectors.source_spec import SourceSpec
from gongying.demo_data import DemoDataset, generate_demo_data
from gongying.oracle import OverlapTruth, identifier_sets_from_files, overlap_truth
from model.results import OverlapResult
from node.config import IdentifierColumn, NodeConfig
from tests.cluster import LOOPBACK, Cluster, Party, start_cluster

BOTH_IDS = (
    IdentifierColumn("email", ColumnKind.EMAIL),
    IdentifierColumn("phone", ColumnKind.PHONE),
)
SQL_TABLE = "members"


def csv_as_text(path: Path) -> pd.DataFrame:
    """A generated CSV with every cell as text exactly as written (empty cells stay "")."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def source_for(kind: str, csv_path: Path, out_dir: Path) -> SourceSpec:
    """The party's CSV as a CSV, Parquet or SQLite member source with the same rows."""
    if kind == "csv":
        return SourceSpec(kind="csv", path=str(csv_path))
    frame = csv_as_text(csv_path)
    if kind == "parquet":
        target = out_dir / f"{csv_path.stem}.parquet"
        frame.to_parquet(target, index=False)
        return SourceSpec(kind="parquet", path=str(target))
    if kind == "sqlite":
        target = out_dir / f"{csv_path.stem}.sqlite"
        with sqlite3.connect(target) as connection:
            frame.to_sql(SQL_TABLE, connection, index=False)
        return SourceSpec(kind="sql", url=f"sqlite:///{target}", table=SQL_TABLE)
    raise ValueError(kind)


def node_config(
    party: str, source: SourceSpec, identifiers: tuple[IdentifierColumn, ...] = BOTH_IDS
) -> NodeConfig:
    return NodeConfig(
        party=party,
        listen=LOOPBACK,
        source=source,
        identifiers=identifiers,
        workers=1,
        insecure_plaintext=True,
        insecure_no_policy=True,
    )


def file_truth(paths: Mapping[str, Path], id_type: str) -> OverlapTruth:
    """The overlap computed from the CSV files with pandas, sets and the profile's normaliser."""
    kind, wanted, profile = ColumnKind(id_type), IdType(id_type), NormalisationProfile()

    def normalised(value: str) -> str | None:
        try:
            return normalise(kind, value, wanted, profile)
        except ConnectorError:
            return None

    return overlap_truth(identifier_sets_from_files(paths, id_type, normalised))


@dataclass(kw_only=True)
class Deployment(Cluster):
    """Running nodes by party, the coordinator, and the data behind them."""

    data: DemoDataset
    csv_paths: dict[str, Path]

    @property
    def extra_addresses(self) -> dict[str, str]:
        return self.unreachable

    def truth(self, parties: Iterable[str], id_type: str) -> OverlapTruth:
        """Overlap by construction (the generator's person ids) over the named parties."""
        persons = self.data.email_persons if id_type == "email" else self.data.phone_persons
        return overlap_truth({p: persons[p] for p in parties})


def start_deployment(
    root: Path,
    sources: Mapping[str, str],
    members: int = 200,
    seed: int = 11,
    extra_nodes: Mapping[str, NodeConfig] | None = None,
    unreachable: Iterable[str] = (),
) -> Deployment:
    """Generate demo data, start one node per party in `sources` (party -> csv/parquet/sqlite)
    plus `extra_nodes`, and a coordinator knowing them all and the `unreachable` parties."""
    data = generate_demo_data(root / "data", members=members, seed=seed)
    configs = {
        party: node_config(party, source_for(kind, data.paths[party], root / "data"))
        for party, kind in sources.items()
    }
    configs.update(extra_nodes or {})
    parties = [Party(name, config.source, config=config) for name, config in configs.items()]
    fields = {"data": data, "csv_paths": {party: data.paths[party] for party in sources}}
    return start_cluster(
        root, parties, kind=Deployment, secure=False, unreachable=list(unreachable), fields=fields
    )


def assert_equals_truth(result: OverlapResult, truth: OverlapTruth, parties: list[str]) -> None:
    """Every region (zeros included), pair, the N-way count and the sizes equal the truth."""
    assert result.parties == tuple(parties)
    assert result.set_sizes == truth.sizes
    assert len(result.regions) == 2 ** len(parties) - 1
    assert {frozenset(members): n for members, n in result.regions} == truth.regions
    for members, count in truth.regions.items():
        assert result.region(*members) == count
    assert {(a, b) for a, b, _ in result.pairwise} == set(truth.pairwise)
    for (a, b), count in truth.pairwise.items():
        assert result.pair(a, b) == count
        assert result.pair(b, a) == count
    assert result.all_parties == truth.all_parties
