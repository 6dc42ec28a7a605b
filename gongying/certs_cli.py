"""`gongying certs`: create a development CA, TLS certificates and query-signing keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from client.profile import client_profile_toml
from runtime.certs import COORDINATOR, CertsError, init_certs
from runtime.config_file import ConfigError, parse_address

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
    client: Annotated[
        str,
        typer.Option(
            "--client",
            help="Whose client profile DIR/client.toml is (default: the first party listed).",
        ),
    ] = "",
    coordinator: Annotated[
        str,
        typer.Option("--coordinator", help="The coordinator HOST:PORT written to client.toml."),
    ] = "127.0.0.1:50050",
) -> None:
    """Create DIR/ca.pem, per party DIR/<party>.pem, .key, .sign.key, .sign.pub, and
    DIR/client.toml: a client profile for `gongying query ... --profile DIR/client.toml`."""
    names = [p.strip() for p in parties.split(",") if p.strip()]
    if not names:
        Console(stderr=True).print("[bold red]error:[/] --parties names no party")
        raise typer.Exit(1)
    client = client or next((n for n in names if n != COORDINATOR), names[0])
    profile = out / "client.toml"
    try:
        if client not in names:
            raise CertsError(f"--client {client!r} is not one of --parties ({', '.join(names)})")
        try:
            parse_address(coordinator, "--coordinator")
        except ConfigError as error:
            raise CertsError(str(error)) from None
        if profile.exists() and not force:
            raise CertsError(f"{profile} already exists; pass --force to replace it")
        made = init_certs(out, names, days=days, overwrite=force)
        profile.write_text(client_profile_toml(coordinator, client), encoding="utf-8")
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
    console.print(
        f"client profile of {client}: {profile} (use --profile {profile}, or copy it to "
        "~/.config/gongying/client.toml)",
        highlight=False,
    )
