"""`gongying query overlap|profile|prospects`: ask a coordinator, print, save, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gongying.cli_common import (
    AsOption,
    CaOption,
    CertOption,
    CoordinatorOption,
    GroupsOption,
    IdTypeOption,
    JsonOption,
    KeyOption,
    NoProgressOption,
    ProfileOption,
    QueryIdOption,
    ReportOption,
    SigningKeyOption,
    TimeoutOption,
    asking,
    client_options,
    err,
    fail,
    psi_groups,
    write_result_outputs,
)
from gongying.report_cli import LangOption, report_language


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
    lang: LangOption = None,
    groups: GroupsOption = "x25519,ristretto255",
) -> None:
    """How many members the parties share: sizes, every exclusive region, pairs, all parties."""
    language = report_language(lang)
    from gongying.render import print_overlap

    names = [p.strip() for p in parties.split(",") if p.strip()]
    settings = client_options(profile, coordinator, ca, cert, key, signing_key, signer_party)
    signer = settings.party or (names[0] if names else "")
    with asking(settings, signer, no_progress, "overlap") as (client, on_progress):
        result = client.overlap(
            names,
            id_type,
            query_id=query_id,
            timeout=timeout,
            on_progress=on_progress,
            groups=psi_groups(groups),
        )
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        print_overlap(result, Console(), lang=language)
    write_result_outputs(result, None, report, csv, language)


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
    lang: LangOption = None,
) -> None:
    """Who the shared audience is: attribute bins and statistics per owner and combined."""
    language = report_language(lang)
    from gongying.render import print_profile
    from runtime.signing import AUDIENCES

    def names(text: str) -> list[str]:
        return [p.strip() for p in text.split(",") if p.strip()]

    if audience not in AUDIENCES:
        raise fail(f"--audience {audience!r} is not one of {', '.join(AUDIENCES)}")
    if report is not None and audience != "shared":
        raise fail("--report shows the shared audience only; leave out --report for " + audience)
    settings = client_options(profile, coordinator, ca, cert, key, signing_key, querier)
    if not settings.party:
        raise fail("name the querier: pass --querier (or set party in the client profile)", 2)
    with asking(settings, settings.party, no_progress, "profile") as (client, on_progress):
        result = client.profile(
            settings.party,
            names(owners),
            names(attributes),
            id_type=id_type,
            query_id=query_id,
            timeout=timeout,
            on_progress=on_progress,
            audience=audience,
            groups=psi_groups(groups),
        )
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        print_profile(result, Console(), language)
    write_result_outputs(None, result, report, csv, language)


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
    lang: LangOption = None,
) -> None:
    """Which partner brings the most new customers, how partners complement each other, and
    the best partner mix for reach, from one overlap query (no new release when --from)."""
    language = report_language(lang)
    from client.joint_frames import complementarity_frame, prospects_frame
    from client.prospects import ProspectError, analyse
    from gongying.joint_render import print_joint
    from gongying.report import write_joint_report
    from model.results import OverlapResult

    if from_json is not None and (coordinator or profile):
        raise fail("name either --coordinator/--profile (run an overlap query) or --from")
    if from_json is not None:
        try:
            result = OverlapResult.from_json(json.loads(from_json.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise fail(f"cannot read an overlap answer from {from_json}: {error}") from None
    else:
        names = [querier] + [p.strip() for p in partners.split(",") if p.strip()]
        settings = client_options(profile, coordinator, ca, cert, key, signing_key, querier)
        with asking(settings, querier, no_progress, "overlap") as (client, on_progress):
            result = client.overlap(
                names, id_type, query_id=query_id, timeout=timeout, on_progress=on_progress
            )
    try:
        analysis = analyse(result, querier, best)
    except ProspectError as error:
        raise fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(analysis.to_json(), indent=2, ensure_ascii=False))
    else:
        print_joint(analysis, Console(), language)
    try:
        if csv is not None:
            prospects_frame(result, querier).to_csv(csv)
            pairs = csv.with_name(f"{csv.stem}.complementarity.csv")
            complementarity_frame(result).to_csv(pairs)
            err.print(f"wrote {csv}\nwrote {pairs}", highlight=False)
        if report is not None:
            err.print(
                f"wrote {write_joint_report(report, analysis, lang=language)}", highlight=False
            )
    except OSError as error:
        raise fail(f"cannot write: {error}") from None
