"""A data officer's commands: `gongying audit report` and `gongying budget show`."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gongying.audit_report import (
    AuditReport,
    PartnerReport,
    render_csv,
    render_html,
    render_text,
)
from gongying.audit_times import BadTime, parse_span
from gongying.cli_common import fail
from node.config import load_node_config
from node.ledger_view import LedgerUnreadable, Standing, charged_between, open_ledger_engine
from node.ledger_view import standing as ledger_standing
from node.policy import Policy, load_policy
from runtime.audit import AuditError, open_audit_log
from runtime.audit.summary import summarise
from runtime.config_file import ConfigError

budget_app = typer.Typer(help="The privacy-budget ledger of a node.", no_args_is_help=True)

EXIT_USAGE = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="node.toml: its audit log, budget ledger and policy."),
]
LedgerOption = Annotated[
    str | None, typer.Option("--ledger", help="Budget ledger: SQLite path or SQLAlchemy URL.")
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="policy.toml (partners' budgets and windows).")
]


@dataclass(frozen=True)
class _Sources:
    log: str | None
    ledger: str | None
    policy: Policy | None


def _sources(
    config: Path | None, log: str | None, ledger: str | None, policy: Path | None
) -> _Sources:
    """Locations from node.toml, each overridden by its own option."""
    try:
        node = load_node_config(config) if config is not None else None
        terms = policy or (node.policy if node is not None else None)
        loaded = load_policy(terms) if terms is not None else None
    except (ConfigError, OSError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    return _Sources(
        log or (node.audit_log if node is not None else None),
        ledger or (node.ledger if node is not None else None),
        loaded,
    )


def _engine(location: str) -> Engine:
    try:
        return open_ledger_engine(location)
    except LedgerUnreadable as exc:
        raise fail(
            f"{exc}; give the node's ledger (--ledger or the ledger key of --config)", EXIT_USAGE
        ) from None


def report(
    since: Annotated[
        str | None, typer.Option(help="From: 2026-03-01, 2026-03-01T09:30 (UTC), or 7d / 24h ago.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Before (a date includes that whole day); as --since.")
    ] = None,
    log: Annotated[
        str | None, typer.Option("--log", help="Audit log (default: the one of --config).")
    ] = None,
    config: ConfigOption = None,
    ledger: LedgerOption = None,
    policy: PolicyOption = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="Write an HTML file.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write a CSV file.")] = None,
) -> None:
    """Per partner over a span: queries, refusals with their reasons, attributes asked, what
    was released, epsilon charged (log and ledger) and left (ledger and policy)."""
    now = datetime.now(UTC)
    try:
        start, end = parse_span(since, until, now)
    except BadTime as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    where = _sources(config, log, ledger, policy)
    if where.log is None:
        raise fail("no audit log: give --log PATH|URL or --config node.toml", EXIT_USAGE)
    try:
        with open_audit_log(where.log) as audit:
            party = audit.party
            every = list(audit.records())
    except AuditError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except SQLAlchemyError as exc:
        raise fail(
            f"cannot open the audit log at {where.log}: {str(exc).splitlines()[0]}", EXIT_USAGE
        ) from None
    records = [
        s
        for s in every
        if (start is None or s.record.time >= start) and (end is None or s.record.time < end)
    ]
    known = where.policy

    def partner_of(requester: str) -> str:
        return (known.partner_for_identity(requester) if known else None) or requester

    summaries = summarise(records, partner_of)
    charged: dict[str, float] | None = None
    standings: dict[str, Standing] = {}
    if where.ledger is not None:
        engine = _engine(where.ledger)
        try:
            charged = charged_between(engine, start, end)
            at = min(end, now) if end is not None else now
            for name, terms in known.partners.items() if known else ():
                standings[name] = ledger_standing(engine, terms, at)
        finally:
            engine.dispose()
    parts = tuple(
        PartnerReport(
            s,
            None if charged is None else charged.get(s.partner, 0.0),
            standings.get(s.partner),
        )
        for s in summaries
    )
    result = AuditReport(party, start, end, parts)
    width = shutil.get_terminal_size((80, 24)).columns
    ids = {stored.record.query_id for stored in every}
    typer.echo(render_text(result, width, ids), nl=False)
    for path, text in ((html_path, render_html), (csv_path, render_csv)):
        if path is None:
            continue
        try:
            path.write_text(text(result), encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {path}: {exc.strerror}", EXIT_USAGE) from None
        typer.echo(f"written {path}", err=True)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _standing_json(s: Standing) -> dict[str, object]:
    return {
        "partner": s.partner,
        "queries_last_24h": s.queries_today,
        "queries_per_day": s.queries_per_day,
        "next_query_frees": None if s.next_query_frees is None else s.next_query_frees.isoformat(),
        "epsilon_spent": s.spent,
        "epsilon_reserved": s.reserved,
        "epsilon_left": s.left,
        "epsilon_per_period": s.budget,
        "period_days": s.period_days,
        "next_charge_falls_out": None
        if s.next_charge_falls_out is None
        else s.next_charge_falls_out.isoformat(),
        "next_charge_epsilon": s.next_charge_epsilon,
    }


@budget_app.command("show")
def show(
    config: ConfigOption = None,
    ledger: LedgerOption = None,
    policy: PolicyOption = None,
    partner: Annotated[str | None, typer.Option(help="Only this partner.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each partner's standing now: queries in the last 24 h against queries_per_day, epsilon
    spent in the rolling window against epsilon_per_period, what is left, and when the next
    charge falls out of the window."""
    where = _sources(config, None, ledger, policy)
    if where.ledger is None or where.policy is None:
        raise fail(
            "give --config node.toml, or --ledger PATH|URL with --policy policy.toml", EXIT_USAGE
        )
    known = where.policy
    if partner is not None and partner not in known.partners:
        raise fail(
            f"partner {partner!r} is not in {known.path}; its partners: "
            f"{', '.join(sorted(known.partners)) or 'none'}",
            EXIT_USAGE,
        )
    names = [partner] if partner is not None else sorted(known.partners)
    engine = _engine(where.ledger)
    try:
        now = datetime.now(UTC)
        found = [ledger_standing(engine, known.partners[name], now) for name in names]
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([_standing_json(s) for s in found], indent=2))
        return
    for s in found:
        typer.echo(f"partner {s.partner} (window {s.period_days} days)")
        typer.echo(
            f"  queries, last 24 h: {s.queries_today} of {s.queries_per_day}"
            f" (next frees {_when(s.next_query_frees)})"
        )
        typer.echo(
            f"  epsilon: spent {s.spent:g}, reserved {s.reserved:g}, left {s.left:g}"
            f" of {s.budget:g}"
        )
        falls = (
            f"{s.next_charge_epsilon:g} at {_when(s.next_charge_falls_out)}"
            if s.next_charge_falls_out is not None
            else "none in the window"
        )
        typer.echo(f"  next charge to fall out: {falls}")
