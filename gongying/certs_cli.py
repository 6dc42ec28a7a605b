"""`gongying certs`: create a development CA, TLS certificates and query-signing keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from runtime.certs import CertsError, init_certs

certs_app = typer.Typer(
    help="Development certificates: a CA, one TLS identity and signing key per party.",
    no_args_is_help=True,
)


@certs_app.command("init")
def certs_init(
    parties: Annotated[
        str, typer.Option("--parties", help="Comma-separated party names (coordinator is added).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for ca.pem and the parties' files.")],
    days: Annotated[int, typer.Option("--days", help="Validity of every certificate.")] = 365,
    force: Annotated[bool, typer.Option("--force", help="Replace files already there.")] = False,
) -> None:
    """Create DIR/ca.pem, and per party DIR/<party>.pem, .key, .sign.key, .sign.pub."""
    names = [p.strip() for p in parties.split(",") if p.strip()]
    if not names:
        Console(stderr=True).print("[bold red]error:[/] --parties names no party")
        raise typer.Exit(1)
    try:
        made = init_certs(out, names, days=days, overwrite=force)
    except (CertsError, OSError) as error:
        Console(stderr=True).print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    console = Console()
    console.print(f"CA certificate {made.ca} (its key {made.ca_key}: keep it offline)")
    for party, files in made.parties.items():
        console.print(
            f"{party}: TLS {files.cert} + {files.key}; query signing {files.sign_key} + "
            f"{files.sign_pub}",
            highlight=False,
        )
