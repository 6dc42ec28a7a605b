"""Proto <-> domain mapping for the node service (the only place that knows both)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from connectors.members import LoadTally
from model.errors import QueryRefused
from model.node import NodeDescription, SessionOpened
from model.results import OwnerProfile
from protocols.paillier import PaillierPublicKey, ciphertext_from_bytes, ciphertext_to_bytes
from protocols.plausibility import OwnerTerms
from protocols.profile import (
    Attribute,
    AttributeAggregate,
    CategoricalAttribute,
    NumericAttribute,
    OwnerAggregate,
)
from runtime.audit import AuditRecordInvalid, SignedHead, Witness
from runtime.signing import SignedQuery
from wire.v1 import node_pb2, query_pb2

KIND_NAMES = {
    node_pb2.QUERY_KIND_OVERLAP: "overlap",
    node_pb2.QUERY_KIND_PROFILE: "profile",
}
KIND_VALUES = {name: value for value, name in KIND_NAMES.items()}
ROLE_NAMES = {
    node_pb2.SESSION_ROLE_MEMBER: "member",
    node_pb2.SESSION_ROLE_QUERIER: "querier",
    node_pb2.SESSION_ROLE_OWNER: "owner",
}
ROLE_VALUES = {name: value for value, name in ROLE_NAMES.items()}


def description_to_proto(description: NodeDescription) -> node_pb2.DescribeResponse:
    return node_pb2.DescribeResponse(
        party=description.party,
        id_types=list(description.id_types),
        profile_version=description.profile_version,
        psi_groups=list(description.psi_groups),
    )


def load_report_to_proto(report: LoadTally) -> node_pb2.LoadReport:
    return node_pb2.LoadReport(
        source=report.source,
        rows_read=report.rows_read,
        accepted=report.accepted,
        duplicates=report.duplicates,
        invalid=dict(report.invalid),
    )


def load_report_from_proto(message: node_pb2.LoadReport) -> LoadTally:
    return LoadTally(
        source=message.source,
        rows_read=message.rows_read,
        accepted=message.accepted,
        duplicates=message.duplicates,
        invalid=dict(message.invalid),
    )


def labels_to_proto(labels: Mapping[str, Mapping[str, str]]) -> dict[str, node_pb2.DisplayLabels]:
    """Display labels per language as the wire's `map<string, DisplayLabels>`."""
    return {lang: node_pb2.DisplayLabels(names=dict(names)) for lang, names in labels.items()}


def labels_from_proto(
    labels: Mapping[str, node_pb2.DisplayLabels],
) -> dict[str, dict[str, str]]:
    """The wire's display labels per language as plain dicts."""
    return {lang: dict(item.names) for lang, item in labels.items() if item.names}


def session_opened_to_proto(opened: SessionOpened) -> node_pb2.OpenSessionResponse:
    return node_pb2.OpenSessionResponse(
        party=opened.party,
        set_size=opened.set_size,
        load_report=load_report_to_proto(opened.report),
        paillier_n=int_to_bytes(opened.paillier_n) if opened.paillier_n else b"",
        attributes=[attribute_to_proto(spec) for spec in opened.attributes],
        min_cohort=opened.min_cohort,
        epsilon=opened.epsilon,
        cached_answer=opened.cached_answer,
        paillier_key_signature=opened.paillier_key_signature,
        set_fingerprint=opened.set_fingerprint,
        labels=labels_to_proto(opened.labels),
    )


def signed_to_proto(signed: SignedQuery) -> query_pb2.SignedQuery:
    return query_pb2.SignedQuery(
        payload=signed.payload, signature=signed.signature, signer=signed.signer
    )


def signed_from_proto(message: query_pb2.SignedQuery) -> SignedQuery:
    return SignedQuery(payload=message.payload, signature=message.signature, signer=message.signer)


def int_to_bytes(value: int) -> bytes:
    """A non-negative integer as minimal big-endian bytes."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def attribute_to_proto(spec: Attribute) -> node_pb2.AttributeSpec:
    if isinstance(spec, CategoricalAttribute):
        return node_pb2.AttributeSpec(
            name=spec.name, categorical=node_pb2.CategoricalSpec(domain=list(spec.domain))
        )
    return node_pb2.AttributeSpec(
        name=spec.name,
        numeric=node_pb2.NumericSpec(lower=spec.lower, upper=spec.upper, scale=spec.scale),
    )


def attribute_from_proto(message: node_pb2.AttributeSpec) -> Attribute:
    if message.WhichOneof("kind") == "categorical":
        return CategoricalAttribute(message.name, tuple(message.categorical.domain))
    if message.WhichOneof("kind") == "numeric":
        spec = message.numeric
        return NumericAttribute(message.name, spec.lower, spec.upper, int(spec.scale))
    raise ValueError(f"attribute {message.name!r} declares no kind")


def cell_names(spec: Attribute) -> tuple[str, ...]:
    """The cells of an attribute's aggregate, in ciphertext order."""
    if isinstance(spec, CategoricalAttribute):
        return spec.bins
    return ("count", "sum", "sum_sq")


def terms_to_proto(terms: OwnerTerms) -> node_pb2.OwnerTerms:
    return node_pb2.OwnerTerms(
        party=terms.party,
        set_size=terms.set_size,
        epsilon=terms.epsilon,
        min_cohort=terms.min_cohort,
    )


def terms_from_proto(message: node_pb2.OwnerTerms) -> OwnerTerms:
    return OwnerTerms(message.party, message.set_size, message.epsilon, message.min_cohort)


def aggregate_to_proto(
    party: str,
    public_key: PaillierPublicKey,
    aggregate: OwnerAggregate,
    terms: OwnerTerms | None = None,
    signature: bytes = b"",
) -> node_pb2.AggregateResponse:
    cells = [
        node_pb2.AggregateCell(
            attribute="",
            cell="overlap",
            ciphertext=ciphertext_to_bytes(public_key, aggregate.overlap),
        )
    ]
    for item in aggregate.attributes:
        for name, ciphertext in zip(cell_names(item.attribute), item.ciphertexts, strict=True):
            cells.append(
                node_pb2.AggregateCell(
                    attribute=item.attribute.name,
                    cell=name,
                    ciphertext=ciphertext_to_bytes(public_key, ciphertext),
                )
            )
    return node_pb2.AggregateResponse(
        party=party,
        key_fingerprint=aggregate.key_fingerprint,
        cells=cells,
        attributes=[attribute_to_proto(item.attribute) for item in aggregate.attributes],
        terms=terms_to_proto(terms) if terms is not None else None,
        terms_signature=signature,
    )


def profiles_to_json(profiles: Sequence[OwnerProfile]) -> str:
    """Released profiles for ReleaseProfileResponse.profiles_json."""
    return json.dumps([p.to_json() for p in profiles], sort_keys=True)


def profiles_from_json(text: str) -> list[OwnerProfile]:
    """The released profiles of a ReleaseProfileResponse; malformed JSON is a ValueError."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("released profiles are not a JSON list")
    return [OwnerProfile.from_json(item) for item in data]


def aggregate_from_proto(
    public_key: PaillierPublicKey, message: node_pb2.AggregateResponse
) -> OwnerAggregate:
    """Rebuild an owner's aggregate; cells must come in declared order (checked)."""
    specs = [attribute_from_proto(a) for a in message.attributes]
    expected = [("", "overlap")] + [(s.name, c) for s in specs for c in cell_names(s)]
    got = [(c.attribute, c.cell) for c in message.cells]
    if got != expected:
        raise ValueError(f"aggregate from {message.party} has cells {got}, expected {expected}")
    values = [ciphertext_from_bytes(public_key, c.ciphertext) for c in message.cells]
    position = 1
    attributes = []
    for spec in specs:
        width = len(cell_names(spec))
        attributes.append(AttributeAggregate(spec, tuple(values[position : position + width])))
        position += width
    return OwnerAggregate(
        key_fingerprint=message.key_fingerprint,
        rows=0,
        overlap=values[0],
        attributes=tuple(attributes),
        sealed=True,
    )


def head_to_proto(head: SignedHead | None) -> node_pb2.AuditHead | None:
    """A signed audit-log head for the wire (None stays unset)."""
    if head is None:
        return None
    return node_pb2.AuditHead(
        party=head.party, seq=head.seq, hash=head.hash, signature=head.signature
    )


def head_from_proto(message: node_pb2.AuditHead, sender: str) -> SignedHead | None:
    """The signed head `sender` sent, or None when it sent none; a malformed one is refused."""
    if not message.party:
        return None
    try:
        return SignedHead(message.party, message.seq, message.hash, message.signature)
    except AuditRecordInvalid as error:
        raise QueryRefused(f"the audit-log head {sender} sent is malformed: {error}") from None


def settle_witness_from_proto(
    message: node_pb2.CloseSessionResponse, sender: str
) -> Witness | None:
    """The node's signed head and charged epsilon from its settle answer (None if unsigned)."""
    head = head_from_proto(message.head, sender) if message.HasField("head") else None
    return None if head is None else Witness(head, message.epsilon)
