"""Running a profile query (DESIGN 3.3): match each owner's list against the querier's set,
encrypt indicators under the querier's key, collect owners' signed aggregates, and have the
querier's node decrypt, combine and release them (node/profile_release.py).

Per owner D: the querier's singly blinded set goes through D (D reshuffles); D's own list goes
through the querier *keeping D's secret order*, so the coordinator's indicators line up with D's
members without the coordinator learning which member is which. The coordinator sees only
fully blinded points, indicator ciphertexts it made, aggregate ciphertexts, and the profiles
the querier's node released: never a cell the release rules hide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from coordinator.cached import reusable_answer
from coordinator.mask_pool import MaskSupply
from coordinator.node_client import Deadline, NodeClient
from coordinator.progress import REGISTRY
from coordinator.relay import QueryCalls, collect, collect_with_header
from model.errors import PartyMisconfigured, ProtocolViolation
from model.node import SessionOpened
from model.outcomes import ProfileOutcome
from model.progress import AGGREGATION, DECRYPTION, INDICATORS, MASKS, OPEN, ROUTING
from model.results import OwnerProfile
from protocols.indicators import audience_indicators, encrypt_indicators
from protocols.matching import matched_positions, sorted_reference
from protocols.paillier import PaillierPublicKey
from protocols.profile import OwnerAggregate
from protocols.querier_keys import WeakQuerierKey, check_querier_modulus
from protocols.ristretto import POINT_BYTES
from runtime.signing import SHARED
from wire import node_serde as node_codec
from wire.streams import frame, point_messages, read_header, unframe
from wire.v1 import node_pb2, points_pb2, query_pb2


class _Phases:
    """When each step of a query finished, in seconds since the query started (thread-safe)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.marks: dict[str, float] = {}
        self._lock = threading.Lock()

    def mark(self, step: str) -> None:
        with self._lock:
            self.marks[step] = round(time.monotonic() - self.started, 3)


def _owner_aggregate(
    owner: NodeClient,
    querier: NodeClient,
    querier_points: bytes,
    public_key: PaillierPublicKey,
    query_id: str,
    deadline: Deadline,
    masks: MaskSupply,
    calls: QueryCalls,
    phases: _Phases,
    audience: str = SHARED,
) -> tuple[OwnerAggregate, node_pb2.AggregateResponse]:
    """Match one owner's list against the querier's set and collect the owner's aggregate
    (decoded, and as the owner signed it for the querier's release step).

    The querier's set k_Q*H(y) goes through the owner (k_D*k_Q*H(y), reshuffled) and back to the
    querier, which takes its own key off (k_D*H(y), reshuffled): an oblivious evaluation of the
    owner's per-query key on the querier's elements. The owner signs the points it returns and
    the querier unblinds only those (node/unblinding.py), so this step is no unblinding oracle.
    The owner's list k_D*H(x), in the owner's secret order, then streams straight to the
    coordinator, which matches and encrypts each chunk and streams the indicators on to the
    owner, which aggregates chunk by chunk in its pool. The
    large list is blinded once, not twice.
    """
    header = points_pb2.StreamHeader(query_id=query_id, set_owner=querier.party)
    reference_call = calls.add(
        owner.reblind(point_messages(header, iter((querier_points,))), deadline)
    )
    reblinded, both = collect_with_header(reference_call, owner, calls)
    unblind = points_pb2.StreamHeader(
        query_id=query_id,
        set_owner=querier.party,
        unblind=True,
        reblinded_by=owner.party,
        reblind_signature=reblinded.reblind_signature,
    )
    unblinded_call = calls.add(querier.reblind(point_messages(unblind, iter((both,))), deadline))
    reference = sorted_reference(collect(unblinded_call, querier, calls))
    phases.mark(f"{owner.party}: querier set evaluated under the owner's key")
    listed_call = calls.add(owner.stream_own_set(query_id, deadline))
    indicators = _indicators(listed_call, owner, reference, public_key, masks, calls, audience)
    response = owner.aggregate(
        _indicator_messages(query_id, public_key, indicators, phases, owner.party), deadline
    )
    REGISTRY.add(query_id, AGGREGATION)
    phases.mark(f"{owner.party}: aggregate received")
    if calls.first_failure is not None:
        raise calls.first_failure
    try:
        return node_codec.aggregate_from_proto(public_key, response), response
    except ValueError as error:
        raise ProtocolViolation(f"owner {owner.party}: {error}") from None


def _indicators(
    listed_call: Any,
    node: NodeClient,
    reference: np.ndarray,
    public_key: PaillierPublicKey,
    masks: MaskSupply,
    calls: QueryCalls,
    audience: str = SHARED,
) -> Iterator[bytes]:
    """Indicators for each chunk of the owner's blinded list as it arrives from `node`: Enc(1)
    for a member the querier holds (`shared`), for one it lacks (`prospects`), or for every
    member (`base`)."""
    source = f"stream from node {node.party}"
    try:
        read_header(listed_call, source)
        query_id = calls.query_id
        for chunk in REGISTRY.counted(
            query_id, ROUTING, unframe(listed_call, POINT_BYTES, "points", source)
        ):
            matched = audience_indicators(matched_positions(chunk, reference), audience)
            taken = masks.take(public_key, len(matched), lambda n: REGISTRY.add(query_id, MASKS, n))
            ciphertexts = encrypt_indicators(public_key, matched, taken)
            REGISTRY.add(query_id, INDICATORS, len(matched))
            yield ciphertexts
    except Exception as error:
        calls.failed(node, error)
        raise


def _indicator_messages(
    query_id: str,
    public_key: PaillierPublicKey,
    indicators: Iterator[bytes],
    phases: _Phases,
    owner: str,
) -> Iterator[node_pb2.IndicatorMessage]:
    yield node_pb2.IndicatorMessage(
        header=node_pb2.IndicatorHeader(query_id=query_id, key_fingerprint=public_key.fingerprint())
    )
    yield from frame(
        indicators,
        public_key.ciphertext_width,
        lambda seq, data: node_pb2.IndicatorMessage(
            chunk=node_pb2.CiphertextChunk(seq=seq, ciphertexts=data)
        ),
        lambda trailer: node_pb2.IndicatorMessage(trailer=trailer),
    )
    phases.mark(f"{owner}: list matched, indicators encrypted and sent")


def _combined_attributes(
    aggregates: Mapping[str, OwnerAggregate], attributes: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The attributes every owner declared identically (summed into the combined profile by the
    querier's node), and why each other one is not combined."""
    not_combined: dict[str, str] = {}
    keep = []
    for name in attributes:
        declared = {
            owner: next(a.attribute for a in agg.attributes if a.attribute.name == name)
            for owner, agg in aggregates.items()
        }
        if len(set(declared.values())) == 1:
            keep.append(name)
        else:
            not_combined[name] = "declared differently: " + "; ".join(
                f"{owner} {spec}" for owner, spec in declared.items()
            )
    return (keep if len(aggregates) >= 2 else []), not_combined


def _release(
    querier: NodeClient,
    query_id: str,
    public_key: PaillierPublicKey,
    signed: list[node_pb2.AggregateResponse],
    combined: list[str],
    deadline: Deadline,
) -> list[OwnerProfile]:
    """Hand every owner's signed aggregate to the querier's node, which decrypts them, applies
    the release rules under the owners' signed terms and returns only the released profiles."""
    request = node_pb2.ReleaseProfileRequest(
        query_id=query_id,
        key_fingerprint=public_key.fingerprint(),
        aggregates=signed,
        combined=combined,
    )
    response = querier.release_profile(request, deadline)
    REGISTRY.add(query_id, DECRYPTION)
    try:
        return node_codec.profiles_from_json(response.profiles_json)
    except (ValueError, KeyError, TypeError) as error:
        raise ProtocolViolation(
            f"querier {querier.party} released malformed profiles: {error}"
        ) from None


def run_profile(
    querier: NodeClient,
    owners: Mapping[str, NodeClient],
    query_id: str,
    id_type: str,
    attributes: list[str],
    profile_version: str,
    deadline: Deadline,
    masks: MaskSupply,
    signed: query_pb2.SignedQuery | None = None,
    audience: str = SHARED,
    psi_group: str = "",
) -> ProfileOutcome:
    """Run the whole profile protocol; nothing is returned unless every owner answered.

    Sessions stay open afterwards: the caller settles them (release or failure) on every node.
    When the querier and every owner hold the same cached answer for an identical earlier
    query, the protocol is skipped and `cached` carries that answer.
    """
    phases = _Phases()
    parties = [querier.party, *owners]
    calls = QueryCalls(query_id, deadline)
    sessions: dict[str, SessionOpened] = {}
    with ThreadPoolExecutor(max_workers=max(2, len(parties))) as threads:
        base = node_pb2.OpenSessionRequest(
            query_id=query_id,
            kind=node_pb2.QUERY_KIND_PROFILE,
            id_type=id_type,
            profile_version=profile_version,
            parties=parties,
            signed=signed,
            psi_group=psi_group,
        )
        querier_request = node_pb2.OpenSessionRequest()
        querier_request.CopyFrom(base)
        querier_request.role = node_pb2.SESSION_ROLE_QUERIER
        querier_request.attributes.extend(attributes)  # for its own audit record; it loads none
        sessions[querier.party] = querier.open_session(querier_request, deadline)
        REGISTRY.add(query_id, OPEN)
        modulus = sessions[querier.party].paillier_n
        if modulus is None:
            raise PartyMisconfigured(
                f"querier {querier.party} did not provide a Paillier public key"
            )
        try:
            public_key = check_querier_modulus(modulus)
        except WeakQuerierKey as error:
            raise PartyMisconfigured(
                f"the Paillier key of querier {querier.party} is refused: {error}"
            ) from None
        owner_request = node_pb2.OpenSessionRequest()
        owner_request.CopyFrom(base)
        owner_request.role = node_pb2.SESSION_ROLE_OWNER
        owner_request.attributes.extend(attributes)
        owner_request.paillier_n = node_codec.int_to_bytes(modulus)
        owner_request.paillier_key_signature = sessions[querier.party].paillier_key_signature
        # owners key their cached answers on the querier's set too (F and F+1 differ)
        owner_request.querier_set_fingerprint = sessions[querier.party].set_fingerprint
        opening = {
            o: threads.submit(owners[o].open_session, owner_request, deadline) for o in owners
        }
        REGISTRY.track(query_id, OPEN, opening.values())
        wait(list(opening.values()))
        sessions.update({o: future.result() for o, future in opening.items()})
        REGISTRY.profile_totals(
            query_id, {p: s.set_size for p, s in sessions.items()}, querier.party
        )
        phases.mark("sessions open (members loaded)")
        cached = reusable_answer(
            (s.epsilon, s.cached_answer) for o, s in sessions.items() if o in owners
        )
        if cached is not None:  # no owner's aggregate leaves it, so none is charged again
            return ProfileOutcome(
                query_id,
                querier.party,
                [],
                {},
                sessions,
                time.monotonic() - phases.started,
                dict(phases.marks),
                cached,
            )
        own_call = calls.add(querier.stream_own_set(query_id, deadline))
        querier_points = collect(own_call, querier, calls)
        phases.mark("querier set blinded")
        futures = {
            name: threads.submit(
                _owner_aggregate,
                node,
                querier,
                querier_points,
                public_key,
                query_id,
                deadline,
                masks,
                calls,
                phases,
                audience,
            )
            for name, node in owners.items()
        }
        aggregates: dict[str, OwnerAggregate] = {}
        relayed: list[node_pb2.AggregateResponse] = []
        for name, future in futures.items():
            try:
                aggregates[name], response = future.result()
                relayed.append(response)
            except Exception as failure:
                calls.fail(failure)
        if calls.first_failure is not None:
            raise calls.first_failure
        combined, not_combined = _combined_attributes(aggregates, attributes)
        REGISTRY.set_total(query_id, DECRYPTION, 1)
        profiles = _release(querier, query_id, public_key, relayed, combined, deadline)
        phases.mark("aggregates decrypted and released by the querier's node")
    total = sum(sessions[o].set_size for o in owners)
    masks.refill_in_background(public_key, total)
    return ProfileOutcome(
        query_id,
        querier.party,
        profiles,
        not_combined,
        sessions,
        time.monotonic() - phases.started,
        dict(phases.marks),
    )
