"""`gongying query lift` and `gongying query contribution`: campaign lift and contribution
scores over the private protocols, as a table, JSON, CSV or an HTML report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gongying.cli_common import (
    CaOption,
    CertOption,
    CoordinatorOption,
    IdTypeOption,
    KeyOption,
    ProfileOption,
    client_options,
    fail,
)
from runtime.config_file import ConfigError
from runtime.signing import SignedQueryError

if TYPE_CHECKING:
    import pandas as pd

    from client.profile import ClientProfile
    from client.sdk import CoordinatorClient
    from model.results import OverlapResult, ProfileResult

LANGUAGES = ("en", "zh-CN")  # gongying.analysis_report.LANGUAGES, without loading pandas

err = Console(stderr=True)

SigningKey = Annotated[
    Path | None, typer.Option("--signing-key", help="Sign queries with this Ed25519 key.")
]
Querier = Annotated[
    str, typer.Option("--querier", help="Whose list (a brand); default: the profile's party.")
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds per query before giving up.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the JSON object.")]
Csv = Annotated[Path | None, typer.Option("--csv", help="Also write the table as CSV.")]
Report = Annotated[Path | None, typer.Option("--report", help="Also write an HTML report.")]
Lang = Annotated[str, typer.Option("--lang", help="Report language: en or zh-CN.")]


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _client(settings: ClientProfile) -> tuple[CoordinatorClient, str]:
    """A client signing as the querier of `settings` (the client profile and flags), and the
    querier."""
    from client.sdk import CoordinatorClient, QuerySigner  # loaded when used: a quick start

    if not settings.party:
        raise fail("name the querier: pass --querier (or set party in the client profile)", 2)
    if settings.signing_key is None:
        raise fail("campaign groups are signed: pass --signing-key (or set signing_key)", 2)
    try:
        signer = QuerySigner.from_file(settings.party, settings.signing_key)
        client = CoordinatorClient(
            settings.coordinator or "", settings.tls, settings.server_name, signer
        )
    except (ConfigError, OSError, SignedQueryError) as error:
        raise fail(str(error), 2) from None
    return client, settings.party


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise fail(f"--lang {lang!r} is not one of {', '.join(LANGUAGES)}")


def _print(frame: pd.DataFrame, title: str, index: bool = False) -> None:
    import pandas as pd  # loaded when used: a quick CLI start

    table = Table(title=title)
    shown = frame.reset_index() if index else frame
    for column in shown.columns:
        table.add_column(str(column))
    for _, row in shown.iterrows():
        table.add_row(
            *("" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row)
        )
    Console().print(table)


def _write(
    csv: Path | None, frame: pd.DataFrame, report: Path | None, section: str, lang: str
) -> None:
    from gongying.analysis_report import write_page  # loaded when used: a quick CLI start

    try:
        if csv is not None:
            frame.to_csv(csv)
            err.print(f"wrote {csv}", highlight=False)
        if report is not None:
            err.print(f"wrote {write_page(report, [section], lang)}", highlight=False)
    except OSError as error:
        raise fail(f"cannot write: {error}") from None


LIFT_SHOWN = ["owner", "outcome", "exposed_members", "holdout_members", "exposed", "holdout",
              "lift", "lift_low", "lift_high", "relative_lift", "significant", "why"]  # fmt: skip


def query_lift(
    owners: Annotated[str, typer.Option("--owners", help="Comma-separated data owners.")],
    outcomes: Annotated[
        str,
        typer.Option(
            "--outcomes",
            help="Comma-separated numeric outcome attributes the owners declare (a 0/1 or "
            "clipped-at-1 attribute gives the conversion rate).",
        ),
    ],
    group_column: Annotated[
        str, typer.Option("--group-column", help="Column of your list naming each group.")
    ] = "group",
    exposed: Annotated[str, typer.Option("--exposed", help="Value of the exposed group.")] = (
        "exposed"
    ),
    holdout: Annotated[str, typer.Option("--holdout", help="Value of the holdout group.")] = (
        "holdout"
    ),
    querier: Querier = "",
    coordinator: CoordinatorOption = None,
    profile: ProfileOption = None,
    id_type: IdTypeOption = "email",
    timeout: Timeout = 900.0,
    as_json: AsJson = False,
    csv: Csv = None,
    report: Report = None,
    lang: Lang = "en",
    ca: CaOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    signing_key: SigningKey = None,
) -> None:
    """Campaign lift: the owners' outcomes for your exposed members against your holdout, one
    signed profile query per group, with 95% intervals holding sampling error and noise."""
    from client.sdk import QueryError  # loaded when used: a quick CLI start
    from gongying.analysis_report import lift_section

    _check_lang(lang)
    if exposed == holdout:
        raise fail(f"--exposed and --holdout are both {exposed!r}: name two groups")
    settings = client_options(profile, coordinator, ca, cert, key, signing_key, querier)
    client, party = _client(settings)
    try:
        with client:
            result = client.lift(
                party,
                _names(owners),
                _names(outcomes),
                group_column,
                exposed,
                holdout,
                id_type=id_type,
                timeout=timeout,
            )
    except QueryError as error:
        raise fail(f"{error} [{error.code}]") from None
    frame = result.to_frame()
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=_plain))
    else:
        _print(frame[LIFT_SHOWN], f"campaign lift ({group_column}: {exposed} vs {holdout})")
    _write(csv, frame, report, lift_section(result, lang), lang)


def _plain(value: Any) -> Any:
    """NA in frames' JSON: null."""
    import pandas as pd  # loaded when used: a quick CLI start

    return None if pd.isna(value) else value


def _read(path: Path, what: str, parse: Any) -> Any:
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise fail(f"cannot read {what} from {path}: {error}") from None


def query_contribution(
    weights: Annotated[Path, typer.Option("--weights", help="Weights file (TOML).")],
    partners: Annotated[str, typer.Option("--partners", help="Comma-separated partners.")] = "",
    spend: Annotated[
        str, typer.Option("--spend", help="Numeric attribute summed over each shared audience.")
    ] = "",
    lift: Annotated[
        Path | None, typer.Option("--lift", help="A saved `query lift --json` answer.")
    ] = None,
    lift_outcome: Annotated[
        str, typer.Option("--lift-outcome", help="Which outcome's lift is scored.")
    ] = "",
    from_overlap: Annotated[
        Path | None, typer.Option("--from", help="A saved `query overlap --json` answer.")
    ] = None,
    querier: Querier = "",
    coordinator: CoordinatorOption = None,
    profile: ProfileOption = None,
    id_type: IdTypeOption = "email",
    timeout: Timeout = 900.0,
    as_json: AsJson = False,
    csv: Csv = None,
    report: Report = None,
    lang: Lang = "en",
    ca: CaOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    signing_key: SigningKey = None,
) -> None:
    """Contribution scores (资源贡献度) per partner from private measures (an overlap, a
    shared-audience spend profile, a saved lift) and declared inputs, weighted by --weights,
    with a suggested traffic weight; every value names the query it came from."""
    from client.contribution_scores import WeightsError, contribution_scores, load_weights
    from client.lift import CampaignLift  # loaded when used: a quick CLI start
    from client.sdk import QueryError
    from gongying.analysis_report import contribution_section
    from model.results import OverlapResult

    _check_lang(lang)
    try:
        table = load_weights(weights)
    except WeightsError as error:
        raise fail(str(error), 2) from None
    chosen = _names(partners)
    campaign = _read(lift, "a lift answer", CampaignLift.from_json) if lift else None
    overlap: OverlapResult | None = None
    if from_overlap is not None:
        overlap = _read(from_overlap, "an overlap answer", OverlapResult.from_json)
    spent: ProfileResult | None = None
    if overlap is None or spend:
        settings = client_options(profile, coordinator, ca, cert, key, signing_key, querier)
        client, party = _client(settings)
        querier = party
        try:
            with client:
                if overlap is None:
                    overlap = client.overlap([party, *chosen], id_type, timeout=timeout)
                if spend:
                    owners = chosen or [p for p in overlap.parties if p != party]
                    spent = client.profile(party, owners, [spend], id_type, timeout=timeout)
        except QueryError as error:
            raise fail(f"{error} [{error.code}]") from None
    querier = querier or overlap.parties[0]
    try:
        scores = contribution_scores(
            table, overlap, querier, chosen or None, spent, spend, campaign, lift_outcome
        )
    except WeightsError as error:
        raise fail(str(error), 2) from None
    if as_json:
        typer.echo(json.dumps(scores.to_json(), indent=2, ensure_ascii=False, default=_plain))
    else:
        _print(scores.to_frame(), "contribution scores", index=True)
        for line in scores.dropped:
            err.print(f"left out: {escape(line)}", highlight=False)
    _write(csv, scores.measures_frame(), report, contribution_section(scores, lang), lang)
