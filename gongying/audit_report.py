"""A data officer's report over a span of an audit log, per partner: queries, refusals and their
reasons, attributes asked, what was released, epsilon charged and left (from the node's ledger);
as wrapped text, CSV, or a self-contained HTML file."""

from __future__ import annotations

import csv
import html
import io
import json
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gongying.audit_listing import released_text, short_ids
from node.ledger_view import Standing
from runtime.audit.summary import PartnerSummary

CSV_COLUMNS = (
    "partner", "queries", "released", "refused", "failed", "refusal_reasons", "attributes",
    "released_values", "epsilon_charged_log", "epsilon_charged_ledger", "epsilon_spent_window",
    "epsilon_reserved", "epsilon_left", "epsilon_per_period", "period_days",
)  # fmt: skip


@dataclass(frozen=True)
class PartnerReport:
    """One partner's lines of the report: the log's summary and, given a ledger, its numbers."""

    summary: PartnerSummary
    charged_ledger: float | None = None  # epsilon charged in the span, per the ledger
    standing: Standing | None = None  # at the end of the span (or now)


@dataclass(frozen=True)
class AuditReport:
    """The report of one party's log over [since, until)."""

    party: str
    since: datetime | None
    until: datetime | None
    partners: tuple[PartnerReport, ...]

    def span(self) -> str:
        """The span in words."""
        start = f"{self.since:%Y-%m-%d %H:%M} UTC" if self.since else "the first record"
        end = f"{self.until:%Y-%m-%d %H:%M} UTC" if self.until else "now"
        return f"from {start} to {end}"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in sorted(counter.items())) or "-"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _released_values(summary: PartnerSummary) -> dict[str, str]:
    """Released query id -> its kind and cells (as `audit list` prints them)."""
    return {
        q.query_id: f"{q.kind}: {released_text(q.released, q.suppressed)}" for q in summary.released
    }


def render_text(report: AuditReport, width: int = 80, every_id: Iterable[str] = ()) -> str:
    """The report wrapped to `width` columns; query ids as prefixes `audit show` accepts (unique
    among `every_id`, the whole log's ids, too)."""
    queries = [q.query_id for p in report.partners for q in p.summary.queries]
    short = short_ids([*every_id, *queries])
    lines = [f"audit report of {report.party}, {report.span()}"]

    def field(label: str, value: str) -> None:
        lines.extend(
            textwrap.wrap(value, width, initial_indent=f"  {label}: ", subsequent_indent="    ")
        )

    for part in report.partners:
        summary, decisions = part.summary, part.summary.decisions
        lines.append("")
        lines.append(f"partner {summary.partner}")
        field(
            "queries",
            f"{len(summary.queries)} ({decisions['released']} released, "
            f"{decisions['refused']} refused, {decisions['failed']} failed)",
        )
        field("refusals", _counts(summary.reasons))
        field("attributes asked", _counts(summary.attributes))
        for query_id, cells in _released_values(summary).items():
            field(f"released {short[query_id]}", cells)
        charged = f"{summary.epsilon:g} (log)"
        if part.charged_ledger is not None:
            charged += f", {part.charged_ledger:g} (ledger)"
        field("epsilon charged", charged)
        if part.standing is not None:
            s = part.standing
            field(
                "epsilon left",
                f"{s.left:g} of {s.budget:g} over {s.period_days} days "
                f"(spent {s.spent:g}, reserved {s.reserved:g})",
            )
    if not report.partners:
        lines.append("no queries in this span")
    return "\n".join(lines) + "\n"


def _row(part: PartnerReport) -> dict[str, object]:
    summary, decisions, s = part.summary, part.summary.decisions, part.standing
    return {
        "partner": summary.partner,
        "queries": len(summary.queries),
        "released": decisions["released"],
        "refused": decisions["refused"],
        "failed": decisions["failed"],
        "refusal_reasons": json.dumps(dict(summary.reasons), sort_keys=True),
        "attributes": json.dumps(dict(summary.attributes), sort_keys=True),
        "released_values": json.dumps(
            {q.query_id: q.released for q in summary.released}, sort_keys=True
        ),
        "epsilon_charged_log": f"{summary.epsilon:g}",
        "epsilon_charged_ledger": _number(part.charged_ledger),
        "epsilon_spent_window": _number(s.spent if s else None),
        "epsilon_reserved": _number(s.reserved if s else None),
        "epsilon_left": _number(s.left if s else None),
        "epsilon_per_period": _number(s.budget if s else None),
        "period_days": "-" if s is None else s.period_days,
    }


def render_csv(report: AuditReport) -> str:
    """One row per partner, the columns of CSV_COLUMNS (counts by name as JSON objects)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for part in report.partners:
        writer.writerow(_row(part))
    return out.getvalue()


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
    "margin:0.5em 0 1.5em}td,th{border:1px solid #bbb;padding:0.25em 0.6em;text-align:left;"
    "vertical-align:top}th{background:#eee}code{font-size:0.9em}"
)


def render_html(report: AuditReport) -> str:
    """A self-contained HTML page (inline style, no script, nothing fetched)."""
    e = html.escape
    body = [f"<h1>Audit report of {e(report.party)}</h1>", f"<p>{e(report.span())}</p>"]
    heads = ("partner", "queries", "released", "refused", "failed", "epsilon charged (log)",
             "epsilon charged (ledger)", "epsilon left", "budget")  # fmt: skip
    body.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>")
    for part in report.partners:
        row = _row(part)
        cells = (row["partner"], row["queries"], row["released"], row["refused"], row["failed"],
                 row["epsilon_charged_log"], row["epsilon_charged_ledger"], row["epsilon_left"],
                 row["epsilon_per_period"])  # fmt: skip
        body.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
    body.append("</table>")
    for part in report.partners:
        summary = part.summary
        body.append(f"<h2>{e(summary.partner)}</h2>")
        body.append(f"<p>Refusals: {e(_counts(summary.reasons))}</p>")
        body.append(f"<p>Attributes asked: {e(_counts(summary.attributes))}</p>")
        columns = ("query", "time (UTC)", "kind", "decision", "attributes", "released / reason",
                 "epsilon")  # fmt: skip
        body.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in columns) + "</tr>")
        for q in summary.queries:
            detail = q.reason if q.reason else released_text(q.released, q.suppressed)
            texts = (q.query_id, f"{q.time:%Y-%m-%d %H:%M:%S}", q.kind, q.decision,
                     ", ".join(q.attributes) or "-", detail, f"{q.epsilon:g}")  # fmt: skip
            body.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in texts) + "</tr>")
        body.append("</table>")
    if not report.partners:
        body.append("<p>No queries in this span.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Audit report of {e(report.party)}</title><style>{_STYLE}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
