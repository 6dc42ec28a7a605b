"""The dispute procedure: a statement recomputed from the verifier's own audit log.

Every difference (inputs, weights, pool shares, totals) is named."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.audit import AuditLog
from settlement.agreement import Agreement, AgreementError
from settlement.measurements import Cell, Measurements
from settlement.metrics import split, totals
from settlement.statement import Statement, StatementError


@dataclass(frozen=True)
class Verification:
    """What `settle verify` found: one line per difference (none: the statement holds)."""

    statement: str
    party: str
    inputs_checked: int
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


def _admissions(statement: Statement, agreement: Agreement, log: AuditLog) -> list[str]:
    """At a partner's node, every query of the statement must have been admitted under the
    partner's accepted agreements (rule `partners.<querier>.agreements`)."""
    if log.party not in agreement.partners:
        return []  # the querier's own node and the coordinator apply no partner policy
    expected = f"partners.{agreement.querier}.agreements"
    lines = []
    for query_id in dict.fromkeys(c.query_id for c in statement.inputs.cells):
        for stored in log.records(query_id=query_id, status="released"):
            if stored.record.rule != expected:
                lines.append(
                    f"query {query_id} was not admitted by {log.party} under an accepted "
                    f"agreement (rule {stored.record.rule}, not {expected}): its numbers "
                    "were not released for this agreement"
                )
    return lines


def _logged(statement: Statement, log: AuditLog) -> Iterator[tuple[Cell, Cell | None, str]]:
    """Each recorded input with the same cell from the log (None: absent, with the reason)."""
    released: dict[str, Mapping[str, int] | None] = {}
    for cell in statement.inputs.cells:
        if cell.query_id not in released:
            records = list(log.records(query_id=cell.query_id, status="released"))
            released[cell.query_id] = records[-1].record.released if records else None
        cells = released[cell.query_id]
        if cells is None:
            yield cell, None, f"no released record of query {cell.query_id}"
        elif cell.name not in cells:
            yield cell, None, f"query {cell.query_id} released no cell {cell.name!r}"
        else:
            yield cell, Cell(cell.kind, cell.query_id, cell.name, cells[cell.name]), ""


def _compare(what: str, stated: Mapping[str, str], computed: Mapping[str, Fraction]) -> list[str]:
    lines = []
    for partner, value in computed.items():
        said = stated.get(partner)
        if said is None or Fraction(said) != value:
            lines.append(
                f"{what} of {partner}: the statement says {said}, the audit log's numbers give "
                f"{value} ({float(value):.6g})"
            )
    return lines


def verify_statement(statement: Statement, log: AuditLog, key: Ed25519PublicKey) -> Verification:
    """Check the signature, the agreement's hash, that a partner's node admitted the queries
    under its accepted agreements, the log's chain, every input against the log, and every
    weight, pool share and total recomputed from the log's numbers."""
    party = log.party
    lines: list[str] = []
    try:
        statement.check_signature(key)
    except StatementError as error:
        lines.append(str(error))
    try:
        agreement = Agreement.from_json(statement.body["agreement"])
    except (AgreementError, KeyError, TypeError, ValueError) as error:
        raise StatementError(f"statement {statement.id}: unreadable agreement ({error})") from None
    if agreement.hash != statement.body["agreement_hash"]:
        lines.append(
            f"agreement_hash: the statement says {statement.body['agreement_hash']}, its "
            f"agreement hashes to {agreement.hash}"
        )
    lines += _admissions(statement, agreement, log)
    chain = log.verify()
    if not chain.ok and chain.first is not None:
        lines.append(f"the audit log of {party} does not verify: {chain.first}")
    found: list[Cell] = []
    for cell, logged, reason in _logged(statement, log):
        where = f"input {cell.kind}:{cell.name} of query {cell.query_id}"
        if logged is None:
            lines.append(f"{where}: {reason} in the audit log of {party}")
            continue
        found.append(logged)
        if logged.value != cell.value:
            lines.append(
                f"{where}: the statement says {cell.value}, the audit log of {party} says "
                f"{logged.value}"
            )
    lines += _recomputed(statement, agreement, Measurements(tuple(found)))
    return Verification(statement.id, party, len(found), tuple(lines))


def _recomputed(statement: Statement, agreement: Agreement, data: Measurements) -> list[str]:
    try:
        splits = split(agreement, data)
    except AgreementError as error:
        return [f"cannot recompute from the audit log: {error}"]
    lines: list[str] = []
    recorded = {p["name"]: p for p in statement.body["pools"]}
    for item in splits:
        pool = recorded.get(item.pool.name)
        if pool is None:
            lines.append(f"pool {item.pool.name}: missing from the statement")
            continue
        lines += _compare(f"pool {item.pool.name} weight", pool["weights"], item.weights)
        lines += _compare(f"pool {item.pool.name} share", pool["shares"], item.shares)
    lines += _compare("total share", statement.body["shares"], totals(splits, agreement.partners))
    return lines
