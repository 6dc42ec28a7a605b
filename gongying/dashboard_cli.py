"""`gongying coordinator dashboard-user`: add a dashboard user or change its password."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from coordinator.dashboard_users import set_user
from runtime.config_file import ConfigError


def dashboard_user(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    users: Annotated[Path, typer.Option("--users", help="The users file [dashboard].users names.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add NAME to the dashboard's users file, or set its password (stored as a scrypt hash)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        set_user(users, name, password)
    except (ConfigError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{users}: user {name} set")
