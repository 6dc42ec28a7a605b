"""Audit records, their canonical JSON form and the hash chain over them."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from runtime.audit.errors import AuditRecordInvalid

DECISIONS: Final = frozenset({"allowed", "refused", "failed", "released"})
HASH_HEX: Final = 64
GENESIS_HASH: Final = "0" * 64
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
_CHECKPOINT_DOMAIN: Final = b"gongying-audit-checkpoint-v1\x00"


def format_time(moment: datetime) -> str:
    """Fixed-width UTC text for `moment` (sorts like the instant it names)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditRecordInvalid(f"time {moment.isoformat()} has no time zone; give a UTC time")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Inverse of `format_time`."""
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise AuditRecordInvalid(f"time {text!r} is not in the form {_TIME_FORMAT}") from exc


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise AuditRecordInvalid(f"field {name} must be a non-empty string, got {value!r}")


@dataclass(frozen=True)
class SignedHead:
    """A party's Ed25519 signature over (seq, hash) of its log head, as a peer keeps it."""

    party: str
    seq: int
    hash: str
    signature: bytes

    def __post_init__(self) -> None:
        _text("head party", self.party)
        if type(self.seq) is not int or self.seq < 0:
            raise AuditRecordInvalid(f"head seq must be an integer >= 0, got {self.seq!r}")
        if not isinstance(self.hash, str) or len(self.hash) != HASH_HEX:
            raise AuditRecordInvalid(f"head hash must be {HASH_HEX} hex digits, got {self.hash!r}")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise AuditRecordInvalid(f"head of {self.party} at record {self.seq} is not signed")

    def message(self) -> bytes:
        """The bytes the party signed (the same as its checkpoint at `seq`)."""
        return checkpoint_message(self.party, self.seq, self.hash)


@dataclass(frozen=True)
class Witness:
    """A peer's signed log head as one party received it when a query settled, and the epsilon
    the peer said its log charged for that query (None when it said nothing)."""

    head: SignedHead
    epsilon: float | None = None

    def __post_init__(self) -> None:
        if self.epsilon is None:
            return
        epsilon = float(self.epsilon)  # one JSON form (0.0, not 0), so the chain hash is stable
        if not math.isfinite(epsilon) or epsilon < 0:
            raise AuditRecordInvalid(f"witnessed epsilon must be finite and >= 0: {epsilon!r}")
        object.__setattr__(self, "epsilon", epsilon)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the signature as hex)."""
        return {
            "party": self.head.party,
            "seq": self.head.seq,
            "hash": self.head.hash,
            "signature": self.head.signature.hex(),
            "epsilon": self.epsilon,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Witness:
        """Inverse of `to_dict`."""
        try:
            signature = bytes.fromhex(data["signature"])
        except (TypeError, ValueError) as exc:
            raise AuditRecordInvalid(f"witnessed head signature is not hex: {exc}") from exc
        epsilon = data.get("epsilon")
        head = SignedHead(data["party"], data["seq"], data["hash"], signature)
        return cls(head, None if epsilon is None else float(epsilon))


@dataclass(frozen=True)
class AuditRecord:
    """One request and its outcome, as one party saw it."""

    query_id: str
    time: datetime
    party: str
    requester: str
    kind: str
    parties: tuple[str, ...]
    attributes: tuple[str, ...]
    decision: str
    rule: str | None = None
    released: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    epsilon: float = 0.0
    duration_ms: int = 0
    error: str | None = None
    witnessed: tuple[Witness, ...] = ()

    def __post_init__(self) -> None:
        for name in ("query_id", "party", "requester", "kind"):
            _text(name, getattr(self, name))
        object.__setattr__(self, "time", parse_time(format_time(self.time)))
        object.__setattr__(self, "parties", tuple(self.parties))
        object.__setattr__(self, "attributes", tuple(self.attributes))
        for name in ("parties", "attributes"):
            for item in getattr(self, name):
                _text(f"{name} item", item)
        if self.decision not in DECISIONS:
            raise AuditRecordInvalid(
                f"field decision is {self.decision!r}; expected one of {sorted(DECISIONS)}"
            )
        for name in ("rule", "error"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise AuditRecordInvalid(f"field {name} must be a string or None, got {value!r}")
        for cell, count in self.released.items():
            if not isinstance(cell, str) or type(count) is not int or count < 0:
                raise AuditRecordInvalid(
                    f"field released has {cell!r}: {count!r}; expected a name and a count >= 0"
                )
        for name in ("suppressed", "duration_ms"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise AuditRecordInvalid(f"field {name} must be an integer >= 0, got {value!r}")
        epsilon = float(self.epsilon)
        if not math.isfinite(epsilon) or epsilon < 0:
            raise AuditRecordInvalid(f"field epsilon must be finite and >= 0, got {self.epsilon!r}")
        object.__setattr__(self, "epsilon", epsilon)
        object.__setattr__(self, "witnessed", tuple(self.witnessed))
        for item in self.witnessed:
            if not isinstance(item, Witness):
                raise AuditRecordInvalid(f"field witnessed holds {item!r}, not a Witness")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: tuples as lists, time as fixed UTC text.

        `witnessed` appears only when the record holds peers' heads, so records written before
        heads were exchanged keep their hashes.
        """
        data: dict[str, Any] = {
            "query_id": self.query_id,
            "time": format_time(self.time),
            "party": self.party,
            "requester": self.requester,
            "kind": self.kind,
            "parties": list(self.parties),
            "attributes": list(self.attributes),
            "decision": self.decision,
            "rule": self.rule,
            "released": dict(self.released),
            "suppressed": self.suppressed,
            "epsilon": self.epsilon,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }
        if self.witnessed:
            data["witnessed"] = [item.to_dict() for item in self.witnessed]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRecord:
        """Inverse of `to_dict`."""
        return cls(
            query_id=data["query_id"],
            time=parse_time(data["time"]),
            party=data["party"],
            requester=data["requester"],
            kind=data["kind"],
            parties=tuple(data["parties"]),
            attributes=tuple(data["attributes"]),
            decision=data["decision"],
            rule=data["rule"],
            released=dict(data["released"]),
            suppressed=data["suppressed"],
            epsilon=data["epsilon"],
            duration_ms=data["duration_ms"],
            error=data["error"],
            witnessed=tuple(Witness.from_dict(item) for item in data.get("witnessed") or ()),
        )

    def canonical(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces, UTF-8): the input to the chain hash."""
        return canonical_json(self.to_dict())


def canonical_json(data: object) -> bytes:
    """Deterministic JSON bytes: sorted keys, fixed separators, no NaN."""
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    """SHA-256 hex over the previous hash (hex text) followed by the canonical record."""
    return hashlib.sha256(prev_hash.encode("ascii") + record.canonical()).hexdigest()


def checkpoint_message(party: str, seq: int, head_hash: str) -> bytes:
    """The bytes a checkpoint signs: a domain tag, the party, and (seq, hash) of the head."""
    return _CHECKPOINT_DOMAIN + canonical_json({"party": party, "seq": seq, "hash": head_hash})


@dataclass(frozen=True)
class StoredRecord:
    """A record as stored: its place in the chain and the hashes that bind it there."""

    seq: int
    prev_hash: str
    hash: str
    record: AuditRecord

    def to_dict(self) -> dict[str, Any]:
        """Record fields plus `seq`, `prev_hash` and `hash`."""
        return {
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            **self.record.to_dict(),
        }


@dataclass(frozen=True)
class Checkpoint:
    """A party's Ed25519 signature over the (seq, hash) of the chain head at one moment."""

    seq: int
    hash: str
    party: str
    signed_at: datetime
    signature: bytes

    def message(self) -> bytes:
        """The signed bytes."""
        return checkpoint_message(self.party, self.seq, self.hash)

    def head(self) -> SignedHead:
        """This checkpoint as the signed head a peer keeps."""
        return SignedHead(self.party, self.seq, self.hash, self.signature)
