"""`gongying report`: one HTML report from saved `--json` answers (an overlap and a profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print one `error:` line and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def report(
    answers: Annotated[
        list[Path],
        typer.Argument(
            help="Saved answers (`gongying query overlap|profile --json > FILE`): at most one "
            "overlap and one profile, in any order."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The HTML report to write.")],
    brand: Annotated[
        str,
        typer.Option(
            "--brand",
            help="Whose customers the contribution section shares out (default: the profile's "
            "querier when it is a party of the overlap, else the overlap's first party).",
        ),
    ] = "",
) -> None:
    """One self-contained HTML report holding an overlap and a profile answer together."""
    from client.insights import ContributionError  # loaded when used: a quick CLI start
    from gongying.combined_report import SavedResultError, read_saved_results
    from gongying.report import write_outputs

    try:
        overlap, profile = read_saved_results(answers)
    except SavedResultError as error:
        raise _fail(str(error), code=2) from None
    if not brand and overlap is not None:
        querier = profile.querier if profile is not None else ""
        brand = querier if querier in overlap.parties else overlap.parties[0]
    try:
        for path in write_outputs(overlap, profile, out, brand=brand or None):
            err.print(f"wrote {path}", highlight=False)
    except ContributionError as error:
        raise _fail(f"--brand: {error}", code=2) from None
    except OSError as error:
        raise _fail(f"cannot write: {error}") from None
