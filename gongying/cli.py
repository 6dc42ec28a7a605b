"""The `gongying` command: serve nodes and coordinators, run queries, run the demo, audit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from gongying.analysis_cli import query_contribution, query_lift
from gongying.audit_cli import audit_app
from gongying.certs_cli import certs_app
from gongying.cli_common import NoProgressOption, fail
from gongying.dashboard_cli import dashboard_user
from gongying.officer_cli import budget_app
from gongying.query_cli import query_overlap, query_profile, query_prospects
from gongying.report_cli import LangOption, report, report_language
from gongying.serve_cli import coordinator_check, coordinator_serve, node_check, node_serve
from gongying.settle_cli import sandbox, settle_app

if TYPE_CHECKING:
    pass

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
app.add_typer(settle_app, name="settle")
app.command("sandbox")(sandbox)
query_app.command("lift")(query_lift)
query_app.command("contribution")(query_contribution)
coordinator_app.command("dashboard-user")(dashboard_user)
node_app.command("check")(node_check)
node_app.command("serve")(node_serve)
coordinator_app.command("check")(coordinator_check)
coordinator_app.command("serve")(coordinator_serve)
query_app.command("overlap")(query_overlap)
query_app.command("profile")(query_profile)
query_app.command("prospects")(query_prospects)


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
    lang: LangOption = None,
) -> None:
    """Generate partners' data, start their nodes and a coordinator, query, check the truth."""
    from gongying.demo import run_demo
    from gongying.demo_configs import DemoError

    language = report_language(lang)
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
            lang=language,
        )
    except DemoError as error:
        raise fail(str(error)) from None
    if not ok:
        raise fail("the query's answer differs from the plaintext truth", code=3)


def main() -> None:
    """Console-script entry point."""
    app()
