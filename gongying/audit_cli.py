"""`gongying audit`: list, show, verify, export, reconcile and report on audit logs."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import SQLAlchemyError

from gongying.audit_listing import narrow_lines, wide_lines
from gongying.audit_times import BadTime, parse_span
from gongying.cli_common import fail
from gongying.officer_cli import report
from runtime.audit import (
    AuditError,
    AuditLog,
    ReconcileReport,
    StoredRecord,
    export,
    load_public_key,
    open_audit_log,
    reconcile,
)
from runtime.audit.record import DECISIONS

audit_app = typer.Typer(
    help="List, verify, export and reconcile tamper-evident audit logs; report per partner.",
    no_args_is_help=True,
)
audit_app.command("report")(report)

EXIT_FAULT = 1
EXIT_USAGE = 2

LogOption = Annotated[
    str, typer.Option("--log", help="Audit log: SQLite file path or SQLAlchemy URL.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class ExportFormat(StrEnum):
    """Formats `export` writes."""

    JSONL = "jsonl"
    CSV = "csv"


@contextmanager
def _opened(location: str) -> Iterator[AuditLog]:
    try:
        log = open_audit_log(location)
    except AuditError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except SQLAlchemyError as exc:
        raise fail(
            f"cannot open the audit log at {location}: {str(exc).splitlines()[0]}", EXIT_USAGE
        ) from None
    try:
        yield log
    finally:
        log.close()


def _matching(
    records: Iterable[StoredRecord],
    span: tuple[datetime | None, datetime | None],
    requester: str | None,
    kind: str | None,
    status: str | None,
) -> list[StoredRecord]:
    since, until = span
    return [
        stored
        for stored in records
        if (since is None or stored.record.time >= since)
        and (until is None or stored.record.time < until)
        and requester in (None, stored.record.requester)
        and kind in (None, stored.record.kind)
        and status in (None, stored.record.decision)
    ]


def _span(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    try:
        return parse_span(since, until, datetime.now(UTC))
    except BadTime as exc:
        raise fail(str(exc), EXIT_USAGE) from None


def _check_status(status: str | None) -> None:
    if status is not None and status not in DECISIONS:
        raise fail(
            f"--status {status!r} is not a decision; use one of {', '.join(sorted(DECISIONS))} "
            "(a refusal is 'refused')",
            EXIT_USAGE,
        )


SinceOption = Annotated[
    str | None,
    typer.Option(help="From this time: 2026-03-01, 2026-03-01T09:30 (UTC), or 7d / 24h ago."),
]
UntilOption = Annotated[
    str | None,
    typer.Option(help="Before this time (a date includes that whole day); same forms as --since."),
]


@audit_app.command("list")
def list_records(
    log: LogOption,
    since: SinceOption = None,
    until: UntilOption = None,
    requester: Annotated[str | None, typer.Option(help="Only this requester.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this query kind.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this decision: released, refused, failed, allowed.")
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="One tab-separated line per record, ids whole.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List records, oldest first: parties, attributes, released values and the reason of each
    refusal or failure, wrapped to the terminal (80 columns unless COLUMNS says otherwise)."""
    _check_status(status)
    span = _span(since, until)
    with _opened(log) as audit:
        every = list(audit.records())
    found = _matching(every, span, requester, kind, status)
    if as_json:
        typer.echo(json.dumps([stored.to_dict() for stored in found], indent=2))
        return
    if wide:
        lines = wide_lines(found)
    else:
        ids = {stored.record.query_id for stored in every}
        width = shutil.get_terminal_size((80, 24)).columns
        lines = narrow_lines(found, width, ids)
    typer.echo("\n".join(lines))


def _query_records(audit: AuditLog, query_id: str, log: str) -> list[StoredRecord]:
    found = list(audit.records(query_id=query_id))
    if found:
        return found
    found = [s for s in audit.records() if s.record.query_id.startswith(query_id)]
    ids = sorted({stored.record.query_id for stored in found})
    if len(ids) > 1:
        raise fail(
            f"query id prefix {query_id} matches {len(ids)} queries in {log}; give more of it",
            EXIT_USAGE,
        )
    return found


@audit_app.command("show")
def show(
    query_id: Annotated[str, typer.Argument(help="A query id, or a prefix `audit list` printed.")],
    log: LogOption,
    as_json: JsonOption = False,
) -> None:
    """Show every record of one query."""
    with _opened(log) as audit:
        found = _query_records(audit, query_id, log)
    if not found:
        typer.echo(f"error: no record of query {query_id} in {log}", err=True)
        raise typer.Exit(EXIT_FAULT)
    if as_json:
        typer.echo(json.dumps([stored.to_dict() for stored in found], indent=2))
        return
    for stored in found:
        typer.echo(f"record {stored.seq}")
        for name, value in stored.to_dict().items():
            text = json.dumps(value) if isinstance(value, list | dict) else str(value)
            typer.echo(f"  {name}: {text}")


@audit_app.command("verify")
def verify(
    log: LogOption,
    public_key: Annotated[
        Path | None, typer.Option(help="PEM Ed25519 public key that signs the checkpoints.")
    ] = None,
    chain_only: Annotated[
        bool,
        typer.Option(
            "--chain-only",
            help="Accept a check of the hash chain alone, without a key (proves little: "
            "anyone can re-chain a log).",
        ),
    ] = False,
    allow_unsigned_tail: Annotated[
        int,
        typer.Option(
            min=0,
            help="Accept up to N records after the last signed checkpoint (queries in flight "
            "while the log was copied).",
        ),
    ] = 0,
) -> None:
    """Recompute the hash chain and check the signed checkpoints and how much they cover.

    Exit 1 on any fault, on a log with no signed checkpoint, or on more unsigned records after
    the last checkpoint than --allow-unsigned-tail; exit 2 without --public-key unless
    --chain-only is given.
    """
    if chain_only and public_key is not None:
        raise fail("--chain-only and --public-key exclude each other: give one", EXIT_USAGE)
    try:
        key = load_public_key(public_key) if public_key is not None else None
    except AuditError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    with _opened(log) as audit:
        report = audit.verify(key)
    first = report.first
    if first is not None:
        typer.echo(f"FAILED: first bad record {first.seq} ({first.kind.value}): {first.detail}")
        for fault in report.faults[1:]:
            typer.echo(f"  also record {fault.seq} ({fault.kind.value}): {fault.detail}")
        raise typer.Exit(EXIT_FAULT)
    summary = (
        f"{report.records} records, {report.checkpoints} checkpoints, "
        f"head {report.head_seq} {report.head_hash}"
    )
    if key is None:
        typer.echo(f"chain only: {summary}")
        typer.echo(
            "warning: CHECKPOINT SIGNATURES NOT CHECKED: a log re-chained by anyone passes "
            "this check; give --public-key <party>.sign.pub",
            err=True,
        )
        if not chain_only:
            raise fail(
                "no --public-key given; add --chain-only to accept a chain-only check", EXIT_USAGE
            )
        return
    problem = report.coverage_problem(allow_unsigned_tail)
    if problem is not None:
        typer.echo(f"FAILED: {problem}")
        typer.echo(report.coverage())
        raise typer.Exit(EXIT_FAULT)
    typer.echo(f"ok: {summary}")
    typer.echo(report.coverage())


@audit_app.command("export")
def export_records(
    log: LogOption,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")],
    out: Annotated[Path | None, typer.Option(help="Output file (default: stdout).")] = None,
) -> None:
    """Export every record as JSON Lines or CSV."""
    with _opened(log) as audit:
        if out is None:
            export(audit, fmt.value, sys.stdout)
            return
        try:
            with out.open("w", encoding="utf-8", newline="") as stream:
                count = export(audit, fmt.value, stream)
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror}", EXIT_USAGE) from None
    typer.echo(f"{count} records written to {out}", err=True)


def _party_keys(given: list[str]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for item in given:
        party, sep, path = item.partition("=")
        if not sep or not party or not path:
            raise fail(
                f"--public-key {item!r} is not PARTY=PEM (e.g. retailer_a=retailer_a.sign.pub)",
                EXIT_USAGE,
            )
        try:
            keys[party] = load_public_key(path)
        except AuditError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
    return keys


def _reconcile_json(report: ReconcileReport) -> str:
    return json.dumps({
        "logs": list(report.logs), "queries": report.queries,
        "heads_checked": report.heads_checked,
        "signatures_checked": list(report.signatures_checked),
        "missing": [{"query_id": m.query_id, "present_in": list(m.present_in),
                     "missing_from": list(m.missing_from)} for m in report.missing],
        "absent": [{"query_id": m.query_id, "present_in": list(m.present_in),
                    "missing_from": list(m.missing_from), "reason": m.reason}
                   for m in report.absent],
        "conflicts": [{"query_id": c.query_id, "field": c.field, "values": c.values}
                      for c in report.conflicts],
        "head_faults": [{"holder": f.holder, "party": f.party, "seq": f.seq,
                         "query_id": f.query_id, "detail": f.detail} for f in report.head_faults],
        "log_faults": [{"party": f.party, "seq": f.fault.seq, "kind": f.fault.kind.value,
                        "detail": f.fault.detail} for f in report.log_faults],
        "ok": report.ok,
    }, indent=2)  # fmt: skip


def _reconcile_text(report: ReconcileReport) -> None:
    typer.echo(
        f"{report.queries} queries across {', '.join(report.logs)}; "
        f"{report.heads_checked} witnessed heads checked"
    )
    for item in report.missing:
        typer.echo(
            f"missing: query {item.query_id} is not in {', '.join(item.missing_from)} "
            f"(present in {', '.join(item.present_in)})"
        )
    for item in report.absent:
        typer.echo(
            f"absent (expected): query {item.query_id} is not in {', '.join(item.missing_from)}: "
            f"{item.reason}"
        )
    for conflict in report.conflicts:
        views = ", ".join(f"{name}={value}" for name, value in conflict.values.items())
        typer.echo(f"conflict: query {conflict.query_id} {conflict.field}: {views}")
    for head in report.head_faults:
        typer.echo(f"head: {head.detail}")
    for bad in report.log_faults:
        fault = bad.fault
        typer.echo(f"log: {bad.party} record {fault.seq} ({fault.kind.value}): {fault.detail}")
    typer.echo("ok" if report.ok else "FAILED")


@audit_app.command("reconcile")
def reconcile_logs(
    logs: Annotated[list[str], typer.Argument(help="Audit logs (paths or URLs), one per party.")],
    named_only: Annotated[
        bool, typer.Option(help="Expect a query only in logs of the parties it names.")
    ] = False,
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            help="PARTY=PEM: the party's checkpoint public key (repeat for each log); checks "
            "the signatures of its log and of the heads its peers witnessed."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Line up several parties' logs by query id and check the heads each witnessed of the
    others; exit 1 when a query is missing, the logs disagree on it (kind, parties, released
    counts, epsilon), a witnessed head is not in its party's log, or a log fails to verify."""
    keys = _party_keys(public_key or [])
    opened: dict[str, AuditLog] = {}
    try:
        for location in logs:
            try:
                audit = open_audit_log(location)
            except AuditError as exc:
                raise fail(str(exc), EXIT_USAGE) from None
            name = audit.party if audit.party not in opened else f"{audit.party}@{location}"
            opened[name] = audit
        unknown = sorted(set(keys) - set(opened))
        if unknown:
            raise fail(
                f"--public-key names {', '.join(unknown)}, whose log is not given", EXIT_USAGE
            )
        report = reconcile(opened, named_only=named_only, keys=keys)
    finally:
        for audit in opened.values():
            audit.close()
    unsigned = [name for name in report.logs if name not in report.signatures_checked]
    if unsigned:
        typer.echo(
            f"warning: signatures NOT checked for {', '.join(unsigned)} "
            "(give --public-key PARTY=PEM for each log)",
            err=True,
        )
    if as_json:
        typer.echo(_reconcile_json(report))
    else:
        _reconcile_text(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAULT)
