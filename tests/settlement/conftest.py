"""Module fixtures: a cluster per mode that has settled the three months of the agreement."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gongying.cli import app
from settlement.agreement import Agreement, load_agreement
from settlement.measurements import measure
from settlement.statement import Statement, issue, read_statement
from settlement.store import StatementStore
from tests.settlement.agreements import write_agreements
from tests.settlement.cluster import BRAND, MONTH_SEEDS, Settling, build_cluster

MONTHS = tuple(MONTH_SEEDS)


@dataclass
class Settled:
    """A cluster after settling every month: the statements, the truth, the files."""

    cluster: Settling
    agreement: Agreement
    alternative: Agreement
    files: tuple[Path, Path]
    db: Path
    truth: dict[str, dict[str, pd.DataFrame]]
    statements: dict[str, Statement]

    def tls_args(self) -> list[str]:
        files = self.cluster.certs.parties[BRAND]
        return [
            "--coordinator",
            self.cluster.coordinator.address,
            "--ca",
            str(self.cluster.certs.ca),
            "--cert",
            str(files.cert),
            "--key",
            str(files.key),
            "--signing-key",
            str(files.sign_key),
        ]


def _settle_cli(run: Settled, period: str) -> Statement:
    out = run.cluster.root / f"statement-{period}.json"
    args = ["settle", "--agreement", str(run.files[0]), "--period", period, "--db", str(run.db)]
    result = CliRunner().invoke(app, [*args, "--out", str(out), *run.tls_args()])
    assert result.exit_code == 0, result.output
    return read_statement(out)


def _settle_api(run: Settled, period: str) -> Statement:
    key = run.cluster.certs.parties[BRAND].sign_key
    with run.cluster.client(BRAND) as client, StatementStore(str(run.db)) as store:
        data = measure(client, run.agreement, period)
        assert client.signer is not None and client.signer.party == BRAND
        statement = issue(run.agreement, period, data, BRAND, client.signer.key)
        store.add(statement)
    assert key.exists()
    return statement


def _settled(root: Path, exact: bool) -> Iterator[Settled]:
    files = write_agreements(root)
    agreement, alternative = load_agreement(files[0]), load_agreement(files[1])
    cluster = build_cluster(root, exact, [agreement.hash])
    run = Settled(cluster, agreement, alternative, files, root / "statements.db", {}, {})
    try:
        for period in MONTHS:
            run.truth[period] = cluster.load_month(period)
            settle = _settle_cli if exact else _settle_api
            run.statements[period] = settle(run, period)
        yield run
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settled]:
    yield from _settled(tmp_path_factory.mktemp("settle-exact"), exact=True)


@pytest.fixture(scope="module")
def noised_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settled]:
    yield from _settled(tmp_path_factory.mktemp("settle-noised"), exact=False)
