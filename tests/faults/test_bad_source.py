"""Bad data at the source: the query fails with an error naming the source, the node stays up.

retailer_a's member source goes bad in five ways (a directory where its file was, a corrupt
Parquet file, a SQLite database deleted after start, text in a numeric attribute column, a
partially written CSV). Each query fails with a message naming the source by its label (here
the default, its kind) and never its file or URL, retailer_a's audit log records the failure,
no budget is charged, and a good query afterwards works.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from client.sdk import QueryError
from connectors.source_spec import SourceSpec
from tests.faults.harness import (
    BRAND,
    RETAILER_A,
    FaultCluster,
    csv_source,
    email,
    running_cluster,
    truth,
)

pytestmark = pytest.mark.slow  # kills, restarts or floods real node processes

SIZE = 120
PAIR = [BRAND, RETAILER_A]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[FaultCluster]:
    yield from running_cluster(tmp_path_factory.mktemp("bad_source"), key_file, size=SIZE)


def restart_a(cluster: FaultCluster, source: SourceSpec) -> None:
    """retailer_a again, reading `source` (same port, same audit log and ledger)."""
    cluster.nodes.pop(RETAILER_A).stop(grace=0.5)
    cluster.set_source(RETAILER_A, source)
    cluster.start_node(RETAILER_A)


def overlap(cluster: FaultCluster) -> tuple[str, int | QueryError | None]:
    query_id = f"bad-{uuid.uuid4()}"
    with cluster.client(BRAND) as client:
        try:
            result = client.overlap(PAIR, "email", query_id=query_id, timeout=30)
        except QueryError as error:
            return query_id, error
    return query_id, result.all_parties


def expected(cluster: FaultCluster) -> int:
    return truth(cluster.held, PAIR).all_parties


def check_failed(
    cluster: FaultCluster, query_id: str, outcome: object, names: str, hidden: Path
) -> None:
    """The querier's error names the source by its label, not its location; retailer_a
    logged the failure; nothing charged."""
    assert isinstance(outcome, QueryError), outcome
    message = str(outcome)
    assert names in message and RETAILER_A in message, message
    assert str(hidden) not in message and hidden.name not in message, message
    assert outcome.code in ("FAILED_PRECONDITION", "NOT_FOUND"), outcome
    kept = cluster.records(RETAILER_A, query_id)
    assert [r.record.decision for r in kept] == ["failed"], kept
    assert names in (kept[0].record.error or ""), kept[0].record.error
    assert not kept[0].record.released
    usage = cluster.usage(RETAILER_A)
    assert (usage.spent, usage.reserved) == (0.0, 0.0), usage
    assert all(n.service.sessions.open_count() == 0 for n in cluster.nodes.values())


def check_good(cluster: FaultCluster) -> None:
    _, result = overlap(cluster)
    assert result == expected(cluster), result


def test_file_replaced_by_directory(cluster: FaultCluster) -> None:
    data = cluster.root / f"{RETAILER_A}.csv"
    kept = data.read_bytes()
    data.unlink()
    data.mkdir()
    try:
        query_id, outcome = overlap(cluster)
        check_failed(cluster, query_id, outcome, "member source not found: csv", data)
    finally:
        data.rmdir()
        data.write_bytes(kept)
    check_good(cluster)


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(
            lambda row: row[: len(row) // 2],
            id="truncated-mid-row",
        ),
        pytest.param(lambda row: '"' + row[:10], id="open-quote"),
    ],
)
def test_partially_written_csv(cluster: FaultCluster, tail: Callable[[str], str]) -> None:
    data = cluster.root / f"{RETAILER_A}.csv"
    kept = data.read_bytes()
    lines = kept.decode().splitlines(keepends=True)
    data.write_text("".join(lines[:-1]) + tail(lines[-1].rstrip("\r\n")))
    try:
        query_id, outcome = overlap(cluster)
        check_failed(cluster, query_id, outcome, "cannot read member source csv", data)
    finally:
        data.write_bytes(kept)
    check_good(cluster)


def test_numeric_attribute_holding_text(cluster: FaultCluster) -> None:
    data = cluster.root / f"{RETAILER_A}.csv"
    kept = data.read_bytes()
    frame = pd.read_csv(data, dtype=str)
    frame.loc[3, "spend"] = "lots"
    frame.to_csv(data, index=False)
    query_id = f"bad-{uuid.uuid4()}"
    try:
        with cluster.client(BRAND) as client, pytest.raises(QueryError) as failed:
            client.profile(BRAND, [RETAILER_A], ["spend"], query_id=query_id, timeout=60)
        check_failed(cluster, query_id, failed.value, "attribute 'spend' of csv", data)
        assert "spend" in str(failed.value) and "lots" in str(failed.value)
        check_good(cluster)  # an overlap reads only the identifiers: still served
    finally:
        data.write_bytes(kept)


def test_corrupt_parquet(cluster: FaultCluster) -> None:
    data = cluster.root / f"{RETAILER_A}.parquet"
    pd.read_csv(cluster.root / f"{RETAILER_A}.csv", dtype=str).to_parquet(data)
    good = data.read_bytes()
    data.write_bytes(good[: len(good) // 2] + b"\x00garbage" * 8)
    restart_a(cluster, SourceSpec(kind="parquet", path=str(data)))
    try:
        query_id, outcome = overlap(cluster)
        check_failed(cluster, query_id, outcome, "cannot read member source parquet", data)
        data.write_bytes(good)
        check_good(cluster)
    finally:
        restart_a(cluster, csv_source(cluster.root / f"{RETAILER_A}.csv"))


def test_vanished_sqlite_database(cluster: FaultCluster) -> None:
    database = cluster.root / f"{RETAILER_A}.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("create table members (email text, age_band text, spend real)")
        connection.executemany(
            "insert into members values (?, ?, ?)",
            [(email(p), "18-24", 1.0) for p in cluster.held[RETAILER_A]],
        )
    connection.close()
    saved = cluster.root / "saved.sqlite"
    shutil.copy(database, saved)
    restart_a(cluster, SourceSpec(kind="sql", url=f"sqlite:///{database}", table="members"))
    try:
        check_good(cluster)
        database.unlink()
        query_id, outcome = overlap(cluster)
        check_failed(cluster, query_id, outcome, "member source not found: sql", database)
        shutil.copy(saved, database)
        check_good(cluster)
    finally:
        restart_a(cluster, csv_source(cluster.root / f"{RETAILER_A}.csv"))
