"""`gongying report`: one HTML report (and its tables as CSV) from saved `--json` answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gongying.cli_common import fail

err = Console(stderr=True)

LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the report and tables: en or zh-CN (default: the system locale's, "
        "else en); owners' display labels of that language replace raw codes.",
    ),
]


def report_language(lang: str | None) -> str:
    """`--lang` checked (one `error:` line naming the supported languages), or the locale's."""
    from gongying.messages import UnknownLanguage, check_language, system_language

    try:
        return check_language(lang) if lang else system_language()
    except UnknownLanguage as error:
        raise fail(str(error), code=2) from None


def report(
    answers: Annotated[
        list[Path],
        typer.Argument(
            help="Saved answers (`gongying query overlap|profile --json > FILE`): at most one "
            "overlap and one profile, in any order."
        ),
    ],
    out: Annotated[Path | None, typer.Option("--out", help="The HTML report to write.")] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="A folder to write the report's tables into, one CSV file per table: "
            "overlap_regions.csv, overlap_pairwise.csv, contribution.csv, profile.csv (every "
            "released number) and profile_<attribute>.csv; raw codes, not display labels.",
        ),
    ] = None,
    brand: Annotated[
        str,
        typer.Option(
            "--brand",
            help="Whose customers the contribution section shares out (default: the profile's "
            "querier when it is a party of the overlap, else the overlap's first party).",
        ),
    ] = "",
    lang: LangOption = None,
) -> None:
    """One self-contained HTML report holding an overlap and a profile answer together, and/or
    its tables as CSV files (--csv FOLDER), in English or Chinese (--lang)."""
    from client import insights  # loaded when used: a quick CLI start
    from client.insights import ContributionError
    from gongying.combined_report import SavedResultError, read_saved_results
    from gongying.report import write_report
    from gongying.report_csv import write_report_tables

    language = report_language(lang)
    if out is None and csv is None:
        raise fail("nothing to write: pass --out REPORT.html and/or --csv FOLDER", code=2)
    try:
        overlap, profile = read_saved_results(answers)
    except SavedResultError as error:
        raise fail(str(error), code=2) from None
    if not brand and overlap is not None:
        querier = profile.querier if profile is not None else ""
        brand = querier if querier in overlap.parties else overlap.parties[0]
    try:
        shares = insights.contribution(overlap, brand) if overlap is not None else None
        written = []
        if out is not None:
            written.append(write_report(out, overlap, profile, shares, lang=language))
        if csv is not None:
            written += write_report_tables(csv, overlap, profile, shares)
    except ContributionError as error:
        raise fail(f"--brand: {error}", code=2) from None
    except OSError as error:
        raise fail(f"cannot write: {error}") from None
    for path in written:
        err.print(f"wrote {path}", highlight=False)
