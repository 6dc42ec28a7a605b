"""What the `gongying` commands share: options, the one-line failure, client settings, outputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from protocols.group_names import UnknownGroup, check_names

if TYPE_CHECKING:
    from client.profile import ClientProfile
    from client.sdk import CoordinatorClient, ProgressCallback, QueryError, QuerySigner
    from model.results import OverlapResult, ProfileResult
    from runtime.tls import TLSFiles


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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` (one `error:` line per line of it, brackets kept) and exit with `code`."""
    for line in message.splitlines() or [""]:
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def query_failed(error: QueryError, coordinator: str, tls: TLSFiles | None) -> typer.Exit:
    """A failed query's line; a plaintext call to a TLS coordinator says how to fix it."""
    from runtime.tls import speaks_tls

    if tls is None and error.code == "UNAVAILABLE" and speaks_tls(coordinator):
        return fail(
            f"the coordinator at {coordinator} requires mutual TLS: pass --ca, --cert and --key "
            "(e.g. --ca certs/ca.pem --cert certs/brand.pem --key certs/brand.key), or "
            "--profile with a client profile naming them",
            code=2,
        )
    return fail(f"{error} [{error.code}]")


def signer_for(key: Path | None, party: str) -> QuerySigner | None:
    """A query signer for --signing-key, signing as `party`."""
    from client.sdk import QuerySigner
    from runtime.signing import SignedQueryError

    if key is None:
        return None
    try:
        return QuerySigner.from_file(party, key)
    except (OSError, SignedQueryError) as error:
        raise fail(f"--signing-key {key}: {error}", code=2) from None


def client_options(
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
    from client.profile import ClientProfile, client_settings
    from runtime.config_file import ConfigError

    flags = ClientProfile(Path("."), coordinator, party or None, ca, cert, key, signing_key)
    try:
        return client_settings(profile, flags)
    except ConfigError as error:
        raise fail(str(error), code=2) from None


def client_tls(ca: Path | None, cert: Path | None, key: Path | None) -> TLSFiles | None:
    """--ca/--cert/--key as TLS files: all three for mutual TLS, none for plaintext."""
    from runtime.tls import TLSFiles

    given = [v is not None for v in (ca, cert, key)]
    if not any(given):
        return None
    if not all(given):
        raise fail("--ca, --cert and --key go together (mutual TLS needs all three)", code=2)
    assert ca is not None and cert is not None and key is not None
    return TLSFiles(ca, cert, key)


@contextmanager
def asking(
    settings: ClientProfile, signer: str, no_progress: bool, title: str
) -> Iterator[tuple[CoordinatorClient, ProgressCallback | None]]:
    """A client of the settings' coordinator, its queries signed as `signer` when a signing key
    is set, and the progress bars titled `title`; a TLS or query failure ends the command in
    one line."""
    from client.sdk import CoordinatorClient, QueryError
    from gongying.progress_view import progress_bars, progress_console
    from runtime.tls import TLSError

    address = settings.coordinator or ""
    query_signer = signer_for(settings.signing_key, signer)
    tls = client_tls(settings.ca, settings.cert, settings.key)
    try:
        with (
            CoordinatorClient(
                address, tls, server_name=settings.server_name, signer=query_signer
            ) as client,
            progress_bars(progress_console(no_progress), title) as on_progress,
        ):
            yield client, on_progress
    except TLSError as error:
        raise fail(str(error)) from None
    except QueryError as error:
        raise query_failed(error, address, tls) from None


def write_result_outputs(
    overlap: OverlapResult | None,
    profile: ProfileResult | None,
    report: Path | None,
    csv: Path | None = None,
    lang: str = "en",
) -> None:
    """--report and --csv; what was written is said on stderr, so --json stays parseable."""
    from gongying.report import write_outputs

    try:
        for path in write_outputs(overlap, profile, report, csv, lang=lang):
            err.print(f"wrote {path}", highlight=False)
    except OSError as error:
        raise fail(f"cannot write: {error}") from None


def operator_errors() -> tuple[type[Exception], ...]:
    """Errors that are an operator's mistake (config, files, keys, data): a line, no traceback."""
    from connectors.errors import ConnectorError
    from protocols.paillier import PaillierError
    from runtime.audit import AuditError
    from runtime.config_file import ConfigError
    from runtime.signing import SignedQueryError

    return (ConfigError, OSError, SignedQueryError, ConnectorError, AuditError, PaillierError)


def report_check(what: str, config: Path, problems: list[str]) -> None:
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise fail("\n".join([*problems, f"{what} {config}: {count}, not ready to serve"]))
    err.print(f"{what} {escape(str(config))}: ready to serve", highlight=False, soft_wrap=True)


def psi_groups(value: str) -> tuple[str, ...]:
    """The --groups list, each a known PSI group; a clear error otherwise."""
    try:
        return check_names([g.strip() for g in value.split(",") if g.strip()], "--groups")
    except UnknownGroup as error:
        raise fail(str(error)) from None
