"""`gongying settle` (with `verify` and `check`) and `gongying sandbox`.

`settle` runs an agreement's queries for a period and signs its statement; `sandbox` replays
alternatives on recorded periods."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from client.sdk import CoordinatorClient, QueryError, QuerySigner
from gongying.cli_common import client_options, fail
from runtime.audit import AuditError, open_audit_log
from runtime.config_file import ConfigError
from runtime.signing import SignedQueryError, load_verify_key
from runtime.tls import TLSError
from settlement.agreement import Agreement, load_agreement
from settlement.measurements import measure
from settlement.sandbox import Band, SandboxReport, replay
from settlement.statement import Statement, issue, read_statement
from settlement.store import StatementStore
from settlement.verify import verify_statement

settle_app = typer.Typer(
    help="Settle a joint-operations agreement for a period; verify a statement.",
    invoke_without_command=True,
)
err = Console(stderr=True)
DEFAULT_DB = "settlements.db"

AgreementOption = Annotated[
    Path | None, typer.Option("--agreement", help="The agreement file (TOML).")
]
DbOption = Annotated[
    str,
    typer.Option("--db", help="Statements database: an SQLite file or a SQLAlchemy URL."),
]


def _agreement(path: Path | None) -> Agreement:
    if path is None:
        raise fail("--agreement FILE is required (the agreement's TOML file)", code=2)
    try:
        return load_agreement(path)
    except ConfigError as error:
        raise fail(str(error), code=2) from None


def _client(
    profile: Path | None,
    coordinator: str | None,
    tls: tuple[Path | None, Path | None, Path | None],
    signing_key: Path | None,
    party: str,
) -> CoordinatorClient:
    settings = client_options(profile, coordinator, *tls, signing_key, party)
    try:
        if settings.signing_key is None:
            raise ConfigError("a statement is signed: pass --signing-key or a client profile")
        signer = QuerySigner.from_file(party, settings.signing_key)
        return CoordinatorClient(
            settings.coordinator or "", settings.tls, settings.server_name, signer
        )
    except (ConfigError, SignedQueryError, OSError, TLSError) as error:
        raise fail(str(error), code=2) from None


def _print_statement(statement: Statement, out: Path | None) -> None:
    body = statement.body
    table = Table(title=f"{body['agreement']['agreement']} {statement.period}")
    table.add_column("partner")
    for pool in body["pools"]:
        share = float(Fraction(pool["share"])) * 100
        table.add_column(f"{pool['name']} ({share:g}%)", justify="right")
    table.add_column("total", justify="right")
    for partner, percent in body["shares_percent"].items():
        cells = [f"{float(Fraction(pool['shares'][partner])) * 100:.4f}%" for pool in body["pools"]]
        table.add_row(partner, *cells, percent)
    Console().print(table)
    where = f", written to {out}" if out else ""
    err.print(f"statement {statement.id} signed by {statement.signer}{where}", highlight=False)


@settle_app.callback()
def settle(
    ctx: typer.Context,
    agreement_file: AgreementOption = None,
    period: Annotated[str, typer.Option("--period", help="The month to settle, YYYY-MM.")] = "",
    db: DbOption = DEFAULT_DB,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the statement.")] = None,
    profile: Annotated[Path | None, typer.Option("--profile", help="Client profile.")] = None,
    coordinator: Annotated[str | None, typer.Option("--coordinator")] = None,
    ca: Annotated[Path | None, typer.Option("--ca", help="CA certificate (PEM).")] = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="Your TLS certificate.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Your TLS private key.")] = None,
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Signs the queries and the statement.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statement JSON.")] = False,
    timeout: Annotated[float, typer.Option("--timeout")] = 900.0,
) -> None:
    """Run the agreement's queries for --period (signed for the agreement, within the nodes'
    budgets), split every pool, sign the statement and keep it in --db."""
    if ctx.invoked_subcommand is not None:
        return
    agreement = _agreement(agreement_file)
    if not period:
        raise fail("--period YYYY-MM is required", code=2)
    try:
        agreement.check_period(period)
        with StatementStore(db) as store:
            if store.find(agreement.hash, period) is not None:
                raise ConfigError(f"{db}: {agreement.name} {period} is already settled")
            tls = (ca, cert, key)
            with _client(profile, coordinator, tls, signing_key, agreement.querier) as client:
                data = measure(client, agreement, period, timeout)
                assert client.signer is not None
                statement = issue(agreement, period, data, client.signer.party, client.signer.key)
            store.add(statement)
        if out is not None:
            statement.write(out)
    except QueryError as error:
        raise fail(f"{error} [{error.code}]") from None
    except (ConfigError, OSError) as error:
        raise fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(statement.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_statement(statement, out)


@settle_app.command("check")
def settle_check(agreement_file: AgreementOption = None) -> None:
    """Check an agreement file and print its hash (what node policies list in `agreements`)."""
    agreement = _agreement(agreement_file)
    Console().print(
        f"agreement {agreement.name} v{agreement.version}: {agreement.querier} with "
        f"{', '.join(agreement.partners)}, {agreement.first_period} to {agreement.last_period}",
        highlight=False,
    )
    for pool in agreement.pools:
        Console().print(f"  {pool.name}: {float(pool.share) * 100:g}% by {pool.metric}")
    typer.echo(agreement.hash)


@settle_app.command("verify")
def settle_verify(
    statement_file: Annotated[Path, typer.Argument(help="The statement JSON file.")],
    log: Annotated[str, typer.Option("--log", help="Your own audit log (file or URL).")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="The signer's key (<signer>.sign.pub).")
    ],
) -> None:
    """Recompute a statement from the released numbers in your own audit log; fail, naming
    each difference, when an input, weight or share differs or the signature does not hold."""
    try:
        statement = read_statement(statement_file)
        key = load_verify_key(public_key)
        with open_audit_log(log) as audit:
            verdict = verify_statement(statement, audit, key)
    except (ConfigError, SignedQueryError, AuditError, OSError) as error:
        raise fail(str(error), code=2) from None
    if not verdict.ok:
        raise fail(
            "\n".join(
                [
                    *verdict.differences,
                    f"statement {verdict.statement}: {len(verdict.differences)} difference(s) "
                    f"with the audit log of {verdict.party}",
                ]
            )
        )
    Console().print(
        f"statement {verdict.statement} verified against the audit log of {verdict.party}: "
        f"{verdict.inputs_checked} inputs, every weight and share recomputed",
        highlight=False,
    )


def _print_sandbox(report: SandboxReport) -> None:
    table = Table(title=f"{report.current.name} -> {report.alternative.name}")
    for column in ("period", "partner", "current", "alternative", "difference", "relative"):
        table.add_column(column, justify="left" if column in ("period", "partner") else "right")
    if report.band is not None:
        table.add_column(f"within {report.band.text}")
    for change in report.changes:
        relative = "n/a" if change.relative is None else f"{float(change.relative) * 100:+.2f}%"
        row = [
            change.period,
            change.partner,
            f"{float(change.current) * 100:.4f}%",
            f"{float(change.alternative) * 100:.4f}%",
            f"{float(change.difference) * 100:+.4f}pp",
            relative,
        ]
        if report.band is not None:
            row.append("yes" if report.band.holds(change.current, change.alternative) else "NO")
        table.add_row(*row)
    Console().print(table)
    if report.band is not None:
        outside = report.outside()
        verdict = "every party's change is" if not outside else f"{len(outside)} change(s) are not"
        Console().print(f"{verdict} within {report.band.text}", highlight=False)


def sandbox(
    agreement_file: AgreementOption = None,
    alternative_file: Annotated[
        Path | None, typer.Option("--alternative", help="The alternative agreement (TOML).")
    ] = None,
    periods: Annotated[
        str, typer.Option("--periods", help="Settled months to replay, e.g. 2026-09,2026-10.")
    ] = "",
    band: Annotated[
        str, typer.Option("--band", help="Allowed change per party: 5% (relative) or 2pp.")
    ] = "",
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replay an alternative agreement on the measurements recorded in the agreement's
    statements (no query, no budget): each party's share under both, and the band verdict."""
    current = _agreement(agreement_file)
    if alternative_file is None:
        raise fail("--alternative FILE is required", code=2)
    alternative = _agreement(alternative_file)
    months = [p.strip() for p in periods.split(",") if p.strip()]
    if not months:
        raise fail("--periods is required (settled months, e.g. 2026-09,2026-10)", code=2)
    try:
        limit = Band.parse(band) if band else None
        with StatementStore(db, create=False) as store:
            report = replay(store, current, alternative, months, limit)
    except ConfigError as error:
        raise fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_sandbox(report)
