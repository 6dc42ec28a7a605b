"""The `gongying` command: serve nodes and coordinators, run queries, run the demo, audit."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from gongying.audit_cli import audit_app
from gongying.certs_cli import certs_app
from gongying.officer_cli import budget_app
from gongying.report_cli import report
from protocols.group_names import UnknownGroup, check_names

if TYPE_CHECKING:
    from coordinator.results import OverlapResult, ProfileResult
    from coordinator.sdk import QueryError, QuerySigner
    from gongying.client_profile import ClientProfile
    from gongying.tls import TLSFiles

app = typer.Typer(
    help="Gongying (共赢): private overlap and profile queries between partners' member data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
node_app = typer.Typer(help="Run a partner node next to your member data.", no_args_is_help=True)
coordinator_app = typer.Typer(help="Run the coordinator that routes queries.", no_args_is_help=True)
query_app = typer.Typer(help="Ask a coordinator a question.", no_args_is_help=True)
app.add_typer(node_app, name="node")
app.add_typer(coordinator_app, name="coordinator")
app.add_typer(query_app, name="query")
app.add_typer(audit_app, name="audit")
app.add_typer(certs_app, name="certs")
app.add_typer(budget_app, name="budget")
app.command("report")(report)

ConfigOption = Annotated[Path, typer.Option("--config", help="Path to the TOML config file.")]
err = Console(stderr=True)


CoordinatorOption = Annotated[
    str | None,
    typer.Option("--coordinator", help="Coordinator HOST:PORT (default: the client profile's)."),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        help="Client profile (TOML: coordinator, party, ca, cert, key, signing_key); default "
        "~/.config/gongying/client.toml when it exists. Flags override it.",
    ),
]
CaOption = Annotated[Path | None, typer.Option("--ca", help="CA certificate (PEM) for mutual TLS.")]
CertOption = Annotated[
    Path | None, typer.Option("--cert", help="Your TLS certificate (PEM), e.g. certs/brand.pem.")
]
KeyOption = Annotated[
    Path | None, typer.Option("--key", help="Your TLS private key (PEM), e.g. certs/brand.key.")
]
IdTypeOption = Annotated[str, typer.Option("--id-type", help="email, phone, member_id, ...")]
QueryIdOption = Annotated[str, typer.Option("--query-id", help="Name the query (for retries).")]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds before giving up.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the documented JSON object.")]
ReportOption = Annotated[
    Path | None, typer.Option("--report", help="Also write a self-contained HTML report.")
]
SigningKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--signing-key",
        help="Sign the query with this Ed25519 key (certs/<party>.sign.key); nodes with a "
        "policy refuse unsigned queries.",
    ),
]
NoProgressOption = Annotated[
    bool,
    typer.Option(
        "--no-progress",
        help="No progress bars (they are drawn on stderr only when it is a terminal).",
    ),
]
GroupsOption = Annotated[
    str,
    typer.Option(
        "--groups",
        help="PSI groups the query allows, preferred first (signed); the coordinator takes the "
        "first every party serves.",
    ),
]
AsOption = Annotated[
    str,
    typer.Option(
        "--as",
        help="The party the query is signed as (default: the first party, or the querier).",
    ),
]


def _groups(value: str) -> tuple[str, ...]:
    """The --groups list, each a known PSI group; a clear error otherwise."""
    try:
        return check_names([g.strip() for g in value.split(",") if g.strip()], "--groups")
    except UnknownGroup as error:
        raise _fail(str(error)) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` (one `error:` line per line of it, brackets kept) and exit with `code`."""
    for line in message.splitlines() or [""]:
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _query_failed(error: QueryError, coordinator: str, tls: TLSFiles | None) -> typer.Exit:
    """A failed query's line; a plaintext call to a TLS coordinator says how to fix it."""
    from gongying.tls import speaks_tls

    if tls is None and error.code == "UNAVAILABLE" and speaks_tls(coordinator):
        return _fail(
            f"the coordinator at {coordinator} requires mutual TLS: pass --ca, --cert and --key "
            "(e.g. --ca certs/ca.pem --cert certs/brand.pem --key certs/brand.key), or "
            "--profile with a client profile naming them",
            code=2,
        )
    return _fail(f"{error} [{error.code}]")


def _signer(key: Path | None, party: str) -> QuerySigner | None:
    """A query signer for --signing-key, signing as `party`."""
    from coordinator.sdk import QuerySigner
    from gongying.signing import SignedQueryError

    if key is None:
        return None
    try:
        return QuerySigner.from_file(party, key)
    except (OSError, SignedQueryError) as error:
        raise _fail(f"--signing-key {key}: {error}", code=2) from None


def _settings(
    profile: Path | None,
    coordinator: str | None,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
    signing_key: Path | None,
    party: str,
) -> ClientProfile:
    """The client profile (--profile, or the default one when it exists) with the flags given
    in its place; a query needs a coordinator from one or the other."""
    from gongying.client_profile import client_settings
    from gongying.config_file import ConfigError

    try:
        return client_settings(profile, coordinator, ca, cert, key, signing_key, party or None)
    except ConfigError as error:
        raise _fail(str(error), code=2) from None


def _client_tls(ca: Path | None, cert: Path | None, key: Path | None) -> TLSFiles | None:
    """--ca/--cert/--key as TLS files: all three for mutual TLS, none for plaintext."""
    from gongying.tls import TLSFiles

    given = [v is not None for v in (ca, cert, key)]
    if not any(given):
        return None
    if not all(given):
        raise _fail("--ca, --cert and --key go together (mutual TLS needs all three)", code=2)
    assert ca is not None and cert is not None and key is not None
    return TLSFiles(ca, cert, key)


def _write_outputs(
    overlap: OverlapResult | None,
    profile: ProfileResult | None,
    report: Path | None,
    csv: Path | None = None,
) -> None:
    """--report and --csv; what was written is said on stderr, so --json stays parseable."""
    from gongying.report import write_outputs

    try:
        for path in write_outputs(overlap, profile, report, csv):
            err.print(f"wrote {path}", highlight=False)
    except OSError as error:
        raise _fail(f"cannot write: {error}") from None


def _operator_errors() -> tuple[type[Exception], ...]:
    """Errors that are an operator's mistake (config, files, keys, data): a line, no traceback."""
    from connectors.errors import ConnectorError
    from gongying.config_file import ConfigError
    from gongying.signing import SignedQueryError
    from node.audit import AuditError
    from protocols.paillier import PaillierError

    return (ConfigError, OSError, SignedQueryError, ConnectorError, AuditError, PaillierError)


def _report_check(what: str, config: Path, problems: list[str]) -> None:
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise _fail("\n".join([*problems, f"{what} {config}: {count}, not ready to serve"]))
    err.print(f"{what} {escape(str(config))}: ready to serve", highlight=False, soft_wrap=True)


@node_app.command("check")
def node_check(config: ConfigOption) -> None:
    """Check node.toml without serving: keys, files, source, columns, keys, TLS, port, policy."""
    from node.check import check_node

    try:
        problems = check_node(config)
    except _operator_errors() as error:
        raise _fail(str(error)) from None
    _report_check("node config", config, problems)


@node_app.command("serve")
def node_serve(config: ConfigOption) -> None:
    """Check node.toml (as `node check`), then serve until SIGTERM or Ctrl-C."""
    from node.server import serve_node

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        serve_node(config)
    except _operator_errors() as error:
        raise _fail(str(error)) from None


@coordinator_app.command("check")
def coordinator_check(config: ConfigOption) -> None:
    """Check coordinator.toml without serving: keys, TLS files, signing key, port."""
    from coordinator.check import check_coordinator

    try:
        problems = check_coordinator(config)
    except _operator_errors() as error:
        raise _fail(str(error)) from None
    _report_check("coordinator config", config, problems)


@coordinator_app.command("serve")
def coordinator_serve(config: ConfigOption) -> None:
    """Check coordinator.toml (as `coordinator check`), then serve until SIGTERM or Ctrl-C."""
    from coordinator.server import serve_coordinator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        serve_coordinator(config)
    except _operator_errors() as error:
        raise _fail(str(error)) from None


@query_app.command("overlap")
def query_overlap(
    parties: Annotated[str, typer.Option("--parties", help="Comma-separated party names.")],
    coordinator: CoordinatorOption = None,
    profile: ProfileOption = None,
    id_type: IdTypeOption = "email",
    query_id: QueryIdOption = "",
    timeout: TimeoutOption = 900.0,
    as_json: JsonOption = False,
    report: ReportOption = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Also write the regions table as CSV.")
    ] = None,
    ca: CaOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    signing_key: SigningKeyOption = None,
    signer_party: AsOption = "",
    no_progress: NoProgressOption = False,
    groups: GroupsOption = "x25519,ristretto255",
) -> None:
    """How many members the parties share: sizes, every exclusive region, pairs, all parties."""
    from coordinator.sdk import CoordinatorClient, QueryError
    from gongying.progress_view import progress_bars, progress_console
    from gongying.render import print_overlap
    from gongying.tls import TLSError

    names = [p.strip() for p in parties.split(",") if p.strip()]
    settings = _settings(profile, coordinator, ca, cert, key, signing_key, signer_party)
    address = settings.coordinator or ""
    signer = _signer(settings.signing_key, settings.party or (names[0] if names else ""))
    tls = _client_tls(settings.ca, settings.cert, settings.key)
    try:
        with (
            CoordinatorClient(
                address, tls, server_name=settings.server_name, signer=signer
            ) as client,
            progress_bars(progress_console(no_progress), "overlap") as on_progress,
        ):
            result = client.overlap(
                names,
                id_type,
                query_id=query_id,
                timeout=timeout,
                on_progress=on_progress,
                groups=_groups(groups),
            )
    except TLSError as error:
        raise _fail(str(error)) from None
    except QueryError as error:
        raise _query_failed(error, address, tls) from None
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        print_overlap(result, Console())
    _write_outputs(result, None, report, csv)


@query_app.command("profile")
def query_profile(
    owners: Annotated[str, typer.Option("--owners", help="Comma-separated data owners.")],
    attributes: Annotated[str, typer.Option("--attributes", help="Comma-separated attributes.")],
    querier: Annotated[
        str,
        typer.Option(
            "--querier", help="The party holding the key (a brand); default: the profile's party."
        ),
    ] = "",
    coordinator: CoordinatorOption = None,
    profile: ProfileOption = None,
    id_type: IdTypeOption = "email",
    query_id: QueryIdOption = "",
    timeout: TimeoutOption = 900.0,
    as_json: JsonOption = False,
    report: ReportOption = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Also write every released number as CSV (one row per owner and cell, with "
            "its share of the shared audience).",
        ),
    ] = None,
    ca: CaOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    signing_key: SigningKeyOption = None,
    no_progress: NoProgressOption = False,
    groups: GroupsOption = "x25519,ristretto255",
    audience: Annotated[
        str,
        typer.Option(
            "--audience",
            help="shared (members you share with each owner), prospects (its members you lack) "
            "or base (its whole base); the owner's policy must allow it (audiences).",
        ),
    ] = "shared",
) -> None:
    """Who the shared audience is: attribute bins and statistics per owner and combined."""
    from coordinator.sdk import CoordinatorClient, QueryError
    from gongying.progress_view import progress_bars, progress_console
    from gongying.render import print_profile
    from gongying.signing import AUDIENCES
    from gongying.tls import TLSError

    def names(text: str) -> list[str]:
        return [p.strip() for p in text.split(",") if p.strip()]

    if audience not in AUDIENCES:
        raise _fail(f"--audience {audience!r} is not one of {', '.join(AUDIENCES)}")
    if report is not None and audience != "shared":
        raise _fail("--report shows the shared audience only; leave out --report for " + audience)
    settings = _settings(profile, coordinator, ca, cert, key, signing_key, querier)
    address = settings.coordinator or ""
    if not settings.party:
        raise _fail("name the querier: pass --querier (or set party in the client profile)", 2)
    signer = _signer(settings.signing_key, settings.party)
    tls = _client_tls(settings.ca, settings.cert, settings.key)
    try:
        with (
            CoordinatorClient(
                address, tls, server_name=settings.server_name, signer=signer
            ) as client,
            progress_bars(progress_console(no_progress), "profile") as on_progress,
        ):
            result = client.profile(
                settings.party,
                names(owners),
                names(attributes),
                id_type=id_type,
                query_id=query_id,
                timeout=timeout,
                on_progress=on_progress,
                audience=audience,
                groups=_groups(groups),
            )
    except TLSError as error:
        raise _fail(str(error)) from None
    except QueryError as error:
        raise _query_failed(error, address, tls) from None
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        print_profile(result, Console())
    _write_outputs(None, result, report, csv)


@query_app.command("prospects")
def query_prospects(
    querier: Annotated[str, typer.Option("--querier", help="Whose new customers (a brand).")],
    partners: Annotated[
        str, typer.Option("--partners", help="Comma-separated partners (retailers).")
    ] = "",
    coordinator: CoordinatorOption = None,
    profile: ProfileOption = None,
    from_json: Annotated[
        Path | None,
        typer.Option("--from", help="Analyse a saved `query overlap --json` answer instead."),
    ] = None,
    best: Annotated[int, typer.Option("--best", help="How many partners to pick for reach.")] = 2,
    id_type: IdTypeOption = "email",
    query_id: QueryIdOption = "",
    timeout: TimeoutOption = 900.0,
    as_json: JsonOption = False,
    report: ReportOption = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Also write the prospect ranking as CSV (and the pairs "
            "beside it, NAME.complementarity.csv).",
        ),
    ] = None,
    ca: CaOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    signing_key: SigningKeyOption = None,
    no_progress: NoProgressOption = False,
) -> None:
    """Which partner brings the most new customers, how partners complement each other, and
    the best partner mix for reach, from one overlap query (no new release when --from)."""
    from coordinator.joint_frames import complementarity_frame, prospects_frame
    from coordinator.prospects import ProspectError, analyse
    from coordinator.results import OverlapResult
    from coordinator.sdk import CoordinatorClient, QueryError
    from gongying.joint_render import print_joint
    from gongying.progress_view import progress_bars, progress_console
    from gongying.report import write_joint_report
    from gongying.tls import TLSError

    if from_json is not None and (coordinator or profile):
        raise _fail("name either --coordinator/--profile (run an overlap query) or --from")
    if from_json is not None:
        try:
            result = OverlapResult.from_json(json.loads(from_json.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise _fail(f"cannot read an overlap answer from {from_json}: {error}") from None
    else:
        names = [querier] + [p.strip() for p in partners.split(",") if p.strip()]
        settings = _settings(profile, coordinator, ca, cert, key, signing_key, querier)
        address = settings.coordinator or ""
        signer = _signer(settings.signing_key, querier)
        tls = _client_tls(settings.ca, settings.cert, settings.key)
        try:
            with (
                CoordinatorClient(
                    address, tls, server_name=settings.server_name, signer=signer
                ) as client,
                progress_bars(progress_console(no_progress), "overlap") as on_progress,
            ):
                result = client.overlap(
                    names, id_type, query_id=query_id, timeout=timeout, on_progress=on_progress
                )
        except TLSError as error:
            raise _fail(str(error)) from None
        except QueryError as error:
            raise _query_failed(error, address, tls) from None
    try:
        analysis = analyse(result, querier, best)
    except ProspectError as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(analysis.to_json(), indent=2, ensure_ascii=False))
    else:
        print_joint(analysis, Console())
    try:
        if csv is not None:
            prospects_frame(result, querier).to_csv(csv)
            pairs = csv.with_name(f"{csv.stem}.complementarity.csv")
            complementarity_frame(result).to_csv(pairs)
            err.print(f"wrote {csv}\nwrote {pairs}", highlight=False)
        if report is not None:
            err.print(f"wrote {write_joint_report(report, analysis)}", highlight=False)
    except OSError as error:
        raise _fail(f"cannot write: {error}") from None


@app.command("demo")
def demo(
    members: Annotated[int, typer.Option("--members", help="Members per retailer.")] = 20_000,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Keep data and configs in this folder.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Your own CSV files, one per party (file stem = party)."),
    ] = None,
    id_type: Annotated[str, typer.Option("--id-type", help="email or phone.")] = "email",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 7,
    insecure_plaintext: Annotated[
        bool,
        typer.Option(
            "--insecure-plaintext",
            help="INSECURE: run every link as plaintext gRPC instead of mutual TLS.",
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write both queries into one self-contained HTML report."),
    ] = None,
    no_progress: NoProgressOption = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Policies opt every partner into exact answers (no noise), compared with the "
            "truth cell by cell; by default answers are noised and checked against their "
            "error bars.",
        ),
    ] = False,
) -> None:
    """Generate partners' data, start their nodes and a coordinator, query, check the truth."""
    from gongying.demo import DemoError, run_demo
    from gongying.progress_view import progress_console

    try:
        ok = run_demo(
            members=members,
            workdir=workdir,
            data=data,
            id_type=id_type,
            seed=seed,
            console=Console(),
            insecure_plaintext=insecure_plaintext,
            report=report,
            progress=progress_console(no_progress),
            exact=exact,
        )
    except DemoError as error:
        raise _fail(str(error)) from None
    if not ok:
        raise _fail("the query's answer differs from the plaintext truth", code=3)


def main() -> None:
    """Console-script entry point."""
    app()
