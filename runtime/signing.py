"""Queries signed by the querier (Ed25519) with nonce and expiry, verified and replay-checked."""

from __future__ import annotations

import heapq
import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocols.group_names import LEGACY_GROUP, UnknownGroup, check_names
from runtime.audit.errors import AuditKeyError
from runtime.audit.keys import load_private_key, load_public_key

PAYLOAD_VERSION = "gongying.query.v1"
NONCE_BYTES = 16
DEFAULT_LIFETIME = timedelta(minutes=15)
MAX_LIFETIME = timedelta(hours=24)
_FIELDS = (
    "v",
    "query_id",
    "kind",
    "querier",
    "parties",
    "owners",
    "attributes",
    "id_type",
    "nonce",
    "expires_at",
)
AUDIENCES = ("shared", "prospects", "base")
"""Whom a profile describes: the members the querier shares with the owner (`shared`), the
owner's members the querier lacks (`prospects`), or the owner's whole base (`base`)."""
SHARED = AUDIENCES[0]
_OPTIONAL = ("audience", "agreement", "segment", "groups")
_AGREEMENT_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Segment:
    """A part of the querier's own list: its members whose `column` holds `value` (a campaign
    group, e.g. group = exposed). Signed, so the coordinator cannot swap one group for another;
    the querier's node profiles with that part only, and owners see its name in the payload."""

    column: str
    value: str


class SignedQueryError(ValueError):
    """A signed query cannot be accepted."""


class BadSignature(SignedQueryError):
    """The signature does not verify under the signer's key (tampered, wrong key or signer)."""


class MalformedQuery(SignedQueryError):
    """The signed payload is not a canonical query of this version, or lives too long."""


class QueryExpired(SignedQueryError):
    """The query's expiry has passed."""


class QueryReplayed(SignedQueryError):
    """The query's nonce was already used."""


@dataclass(frozen=True)
class QueryFields:
    """What the querier signs: the whole question, who asks it, a nonce and an expiry (UTC)."""

    query_id: str
    kind: str
    querier: str
    parties: tuple[str, ...]
    owners: tuple[str, ...]
    attributes: tuple[str, ...]
    id_type: str
    nonce: bytes
    expires_at: datetime
    audience: str = SHARED
    agreement: str = ""  # SHA-256 hex of the agreement the query is run for ("" when none)
    segment: Segment | None = None
    groups: tuple[str, ...] = (LEGACY_GROUP,)

    def canonical_bytes(self) -> bytes:
        """The one byte string signed for these fields: sorted-key compact JSON, UTF-8. The
        `audience` key is present only when it is not `shared`, `agreement` only when the query
        is run for an agreement, `segment` ({"column", "value"}) only when the querier profiles
        part of its list, and `groups` (the PSI groups the querier allows, preferred first) only
        when it is not just ristretto255, so other queries sign the same bytes as before the
        keys existed (old payloads still verify)."""
        if self.expires_at.tzinfo is None:
            raise MalformedQuery(f"query {self.query_id!r}: expires_at must be timezone-aware")
        document: dict[str, Any] = {
            "v": PAYLOAD_VERSION,
            "query_id": self.query_id,
            "kind": self.kind,
            "querier": self.querier,
            "parties": list(self.parties),
            "owners": list(self.owners),
            "attributes": list(self.attributes),
            "id_type": self.id_type,
            "nonce": self.nonce.hex(),
            "expires_at": self.expires_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
        if self.audience != SHARED:
            document["audience"] = self.audience
        if self.agreement:
            document["agreement"] = self.agreement
        if self.segment is not None:
            document["segment"] = {"column": self.segment.column, "value": self.segment.value}
        if self.groups != (LEGACY_GROUP,):
            document["groups"] = list(self.groups)
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


@dataclass(frozen=True)
class SignedQuery:
    """The envelope on the wire (proto gongying.v1.SignedQuery): payload, signature, signer."""

    payload: bytes
    signature: bytes
    signer: str


def new_query_fields(
    query_id: str,
    kind: str,
    querier: str,
    parties: Sequence[str],
    id_type: str,
    owners: Sequence[str] = (),
    attributes: Sequence[str] = (),
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: datetime | None = None,
    audience: str = SHARED,
    agreement: str = "",
    segment: Segment | None = None,
    groups: Sequence[str] = (LEGACY_GROUP,),
) -> QueryFields:
    """Fields for a new query with a fresh random nonce, expiring `lifetime` from now."""
    start = now or datetime.now(UTC)
    return QueryFields(
        query_id=query_id,
        kind=kind,
        querier=querier,
        parties=tuple(parties),
        owners=tuple(owners),
        attributes=tuple(attributes),
        id_type=id_type,
        nonce=os.urandom(NONCE_BYTES),
        expires_at=start + lifetime,
        audience=audience,
        agreement=agreement,
        segment=segment,
        groups=tuple(groups),
    )


def sign_query(fields: QueryFields, private_key: Ed25519PrivateKey) -> SignedQuery:
    """Sign the canonical bytes of `fields`; the signer is the querier."""
    payload = fields.canonical_bytes()
    return SignedQuery(payload, private_key.sign(payload), fields.querier)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedQuery(f"signed query field {key!r} is not a list of strings")
    return tuple(value)


def _text(document: dict[str, Any], key: str) -> str:
    value = document[key]
    if not isinstance(value, str):
        raise MalformedQuery(f"signed query field {key!r} is not a string")
    return value


def _segment(value: Any) -> Segment:
    if not isinstance(value, dict) or sorted(value) != ["column", "value"]:
        raise MalformedQuery("signed query segment must have exactly the keys column, value")
    column, wanted = _text(value, "column"), _text(value, "value")
    if not column or not wanted:
        raise MalformedQuery("signed query segment names an empty column or value")
    return Segment(column, wanted)


def _parse(payload: bytes) -> QueryFields:
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedQuery("signed query payload is not UTF-8 JSON") from None
    if not isinstance(document, dict) or sorted(set(document) - set(_OPTIONAL)) != sorted(_FIELDS):
        raise MalformedQuery(
            f"signed query payload must have exactly the keys {_FIELDS} (and optionally "
            f"{', '.join(_OPTIONAL)})"
        )
    try:
        groups = (
            check_names(_strings(document["groups"], "groups"), "signed query field 'groups'")
            if "groups" in document
            else (LEGACY_GROUP,)
        )
    except UnknownGroup as error:
        raise MalformedQuery(str(error)) from None
    audience = _text(document, "audience") if "audience" in document else SHARED
    agreement = _text(document, "agreement") if "agreement" in document else ""
    if "agreement" in document and not _AGREEMENT_HASH.match(agreement):
        raise MalformedQuery(f"signed query agreement {agreement!r} is not a SHA-256 hex digest")
    if audience not in AUDIENCES:
        raise MalformedQuery(f"signed query audience {audience!r} is not one of {AUDIENCES}")
    if document["v"] != PAYLOAD_VERSION:
        raise MalformedQuery(f"signed query version {document['v']!r} is not {PAYLOAD_VERSION!r}")
    try:
        nonce = bytes.fromhex(_text(document, "nonce"))
        expires_at = datetime.fromisoformat(_text(document, "expires_at"))
    except ValueError:
        raise MalformedQuery("signed query nonce or expires_at is malformed") from None
    if len(nonce) != NONCE_BYTES or expires_at.tzinfo is None:
        raise MalformedQuery(f"signed query needs a {NONCE_BYTES}-byte nonce and a UTC expires_at")
    fields = QueryFields(
        query_id=_text(document, "query_id"),
        kind=_text(document, "kind"),
        querier=_text(document, "querier"),
        parties=_strings(document["parties"], "parties"),
        owners=_strings(document["owners"], "owners"),
        attributes=_strings(document["attributes"], "attributes"),
        id_type=_text(document, "id_type"),
        nonce=nonce,
        expires_at=expires_at.astimezone(UTC),
        audience=audience,
        agreement=agreement,
        segment=_segment(document["segment"]) if "segment" in document else None,
        groups=groups,
    )
    if fields.canonical_bytes() != payload:
        raise MalformedQuery(f"query {fields.query_id!r}: payload is not in canonical form")
    return fields


def signed_audience(payload: bytes) -> str:
    """The audience a signed payload names (`shared` when it names none); MalformedQuery when
    the payload is not a canonical query. For parties that route a query without verifying it
    (the coordinator); nodes verify with verify_query."""
    return _parse(payload).audience


def signed_segment(payload: bytes) -> Segment | None:
    """The segment a signed payload names, read without verifying the signature: for a node
    that runs without a policy (`insecure_no_policy`), which verifies nothing."""
    return _parse(payload).segment


def signed_groups(payload: bytes) -> tuple[str, ...]:
    """The PSI groups a signed payload allows, preferred first (ristretto255 when it names
    none); MalformedQuery when the payload is not a canonical query. For the coordinator's
    choice of group and the node's check of it (after the node verified the signature)."""
    return _parse(payload).groups


def verify_query(
    signed: SignedQuery,
    public_key: Ed25519PublicKey,
    now: datetime,
    max_lifetime: timedelta = MAX_LIFETIME,
) -> QueryFields:
    """The query's fields when `public_key` signed them, they name the signer as querier, and
    they have not expired at `now` (nor expire more than `max_lifetime` after it).

    Raises BadSignature (tampered payload, wrong key, signer not the querier), MalformedQuery,
    or QueryExpired. Replay is checked separately by a ReplayGuard.
    """
    try:
        public_key.verify(signed.signature, signed.payload)
    except InvalidSignature:
        raise BadSignature(
            f"signed query from {signed.signer!r}: signature does not verify under its key"
        ) from None
    fields = _parse(signed.payload)
    if fields.querier != signed.signer:
        raise BadSignature(
            f"query {fields.query_id!r} is signed by {signed.signer!r} but names querier "
            f"{fields.querier!r}"
        )
    if fields.expires_at <= now:
        raise QueryExpired(
            f"query {fields.query_id!r} from {fields.querier!r} expired at "
            f"{fields.expires_at.isoformat()}"
        )
    if fields.expires_at - now > max_lifetime:
        raise MalformedQuery(
            f"query {fields.query_id!r} from {fields.querier!r} expires at "
            f"{fields.expires_at.isoformat()}, more than {max_lifetime} ahead"
        )
    return fields


class NonceStore(Protocol):
    """Where a ReplayGuard keeps the nonces it has seen: memory (MemoryNonces) or the node's
    ledger database (node/nonces.py, SQLite or PostgreSQL), which outlives a restart."""

    def remember(self, signer: str, nonce: bytes, expires_at: datetime, now: datetime) -> bool:
        """Keep (signer, nonce) until `expires_at`, forgetting entries expired at `now`;
        False when it is kept already (a replay)."""
        ...

    def __len__(self) -> int:
        """How many nonces are kept."""
        ...

    def close(self) -> None:
        """Release what the store holds open."""
        ...


class MemoryNonces:
    """Nonces in memory: forgotten when the process ends (nodes without a ledger)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, bytes], datetime] = {}
        self._expiries: list[tuple[datetime, str, bytes]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def remember(self, signer: str, nonce: bytes, expires_at: datetime, now: datetime) -> bool:
        """Keep (signer, nonce) until `expires_at`; False when it is kept already."""
        with self._lock:
            while self._expiries and self._expiries[0][0] <= now:
                _, old_signer, old_nonce = heapq.heappop(self._expiries)
                self._seen.pop((old_signer, old_nonce), None)
            if (signer, nonce) in self._seen:
                return False
            self._seen[(signer, nonce)] = expires_at
            heapq.heappush(self._expiries, (expires_at, signer, nonce))
            return True

    def close(self) -> None:
        """Nothing to release."""


class ReplayGuard:
    """Remembers each accepted query's (signer, nonce) until it expires; a second use is refused.

    Thread safe. Forgetting at expiry is safe because verify_query refuses expired queries.
    With a persistent store (node/nonces.py) a replay is refused across restarts too.
    """

    def __init__(self, store: NonceStore | None = None) -> None:
        self.store: NonceStore = store if store is not None else MemoryNonces()

    def __len__(self) -> int:
        return len(self.store)

    def close(self) -> None:
        """Release the store (its database connections)."""
        self.store.close()

    def check(self, fields: QueryFields, now: datetime) -> None:
        """Record `fields.nonce` for its querier; raise QueryReplayed if it is remembered."""
        if not self.store.remember(fields.querier, fields.nonce, fields.expires_at, now):
            raise QueryReplayed(
                f"query {fields.query_id!r} from {fields.querier!r} was already used "
                f"(nonce {fields.nonce.hex()})"
            )


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """A party's Ed25519 query-signing key (<party>.sign.key, PEM)."""
    try:
        return load_private_key(path)
    except AuditKeyError as error:
        raise SignedQueryError(str(error)) from None


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """A party's Ed25519 query-verification key (<party>.sign.pub, PEM)."""
    try:
        return load_public_key(path)
    except AuditKeyError as error:
        raise SignedQueryError(str(error)) from None
