"""Settlement statements, signed (Ed25519) by the querier that ran the queries.

A statement holds every input number with the query that released it, every formula and every
share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from settlement.agreement import Agreement, AgreementError, canonical
from settlement.measurements import Cell, Measurements
from settlement.metrics import PoolSplit, split, totals

FORMAT: Final = "gongying.statement.v1"


class StatementError(AgreementError):
    """A statement that cannot be read, is not signed by its signer, or does not verify."""


@dataclass(frozen=True)
class Statement:
    """The signed body of a statement, as a JSON-ready document, and its signature."""

    body: dict[str, Any]
    signature: bytes

    @property
    def id(self) -> str:
        """The first 16 hex digits of SHA-256 over the canonical body."""
        return hashlib.sha256(canonical(self.body)).hexdigest()[:16]

    @property
    def agreement(self) -> Agreement:
        return Agreement.from_json(self.body["agreement"])

    @property
    def period(self) -> str:
        return str(self.body["period"])

    @property
    def signer(self) -> str:
        return str(self.body["signer"])

    @property
    def inputs(self) -> Measurements:
        """The recorded numbers; StatementError when one cannot be read."""
        try:
            return Measurements(tuple(Cell.from_json(c) for c in self.body["inputs"]))
        except (KeyError, TypeError, ValueError) as error:
            raise StatementError(
                f"statement {self.id}: an input is not kind, query_id, cell, value ({error!r})"
            ) from None

    def shares(self) -> dict[str, Fraction]:
        return {p: Fraction(v) for p, v in self.body["shares"].items()}

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.body, "signature": self.signature.hex()}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")

    def check_signature(self, key: Ed25519PublicKey) -> None:
        """StatementError unless `key` signed this body."""
        try:
            key.verify(self.signature, canonical(self.body))
        except InvalidSignature:
            raise StatementError(
                f"statement {self.id}: the signature does not verify under the key given for "
                f"{self.signer} (altered after signing, or signed by another key)"
            ) from None


def _fraction_map(values: Mapping[str, Fraction]) -> dict[str, str]:
    return {p: str(v) for p, v in values.items()}


def _pool_json(item: PoolSplit) -> dict[str, Any]:
    return {
        "name": item.pool.name,
        "share": str(item.pool.share),
        "metric": item.pool.metric,
        "formula": item.formula,
        "weights": _fraction_map(item.weights),
        "shares": _fraction_map(item.shares),
        "inputs": {
            p: [f"{c.kind}:{c.name}@{c.query_id}" for c in cells] for p, cells in item.used.items()
        },
    }


def statement_body(
    agreement: Agreement, period: str, data: Measurements, signer: str, issued_at: datetime
) -> dict[str, Any]:
    """The statement's content: the agreement, every released number, every pool's formula,
    weights and shares, and each partner's total (exact fractions, and percentages to read)."""
    agreement.check_period(period)
    splits = split(agreement, data)
    shares = totals(splits, agreement.partners)
    return {
        "format": FORMAT,
        "agreement": agreement.to_json(),
        "agreement_hash": agreement.hash,
        "period": period,
        "signer": signer,
        "issued_at": issued_at.astimezone(UTC).isoformat(timespec="seconds"),
        "inputs": [c.to_json() for c in data.cells],
        "pools": [_pool_json(s) for s in splits],
        "shares": _fraction_map(shares),
        "shares_percent": {p: f"{float(v) * 100:.4f}%" for p, v in shares.items()},
    }


def sign_statement(body: dict[str, Any], key: Ed25519PrivateKey) -> Statement:
    """Sign the canonical bytes of `body`."""
    return Statement(body, key.sign(canonical(body)))


def read_statement(path: Path) -> Statement:
    """A statement file; StatementError names the file and what is wrong with it."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise StatementError(f"statement file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StatementError(f"statement file {path} is not JSON: {error}") from None
    return statement_from_json(document, str(path))


def statement_from_json(document: Any, where: str) -> Statement:
    """A statement from its JSON form; StatementError naming `where` and the key."""
    if not isinstance(document, dict) or not isinstance(document.get("statement"), dict):
        raise StatementError(f"{where}: expected an object with keys 'statement' and 'signature'")
    body = document["statement"]
    if body.get("format") != FORMAT:
        raise StatementError(f"{where}: statement.format is not {FORMAT!r}")
    for key in ("agreement", "agreement_hash", "period", "signer", "inputs", "pools", "shares"):
        if key not in body:
            raise StatementError(f"{where}: statement has no key {key!r}")
    try:
        signature = bytes.fromhex(str(document.get("signature", "")))
    except ValueError:
        raise StatementError(f"{where}: signature is not hex") from None
    return Statement(body, signature)


def issue(
    agreement: Agreement,
    period: str,
    data: Measurements,
    signer: str,
    key: Ed25519PrivateKey,
    now: datetime | None = None,
) -> Statement:
    """Compute and sign the statement of `period` from its measurements."""
    body = statement_body(agreement, period, data, signer, now or datetime.now(UTC))
    return sign_statement(body, key)


def pool_rows(statement: Statement) -> Sequence[dict[str, Any]]:
    """The statement's pools as recorded."""
    return list(statement.body["pools"])
