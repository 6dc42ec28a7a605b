"""A deviating coordinator at the release step of a profile query (issue 12, "the coordinator sees
only what is released to it by rule"): over mutual TLS, as the coordinator, it collects the
owners' signed aggregates, then asks brand's node to release them with k lowered, with the
epsilon or set size changed, for one owner's cells alone, twice, or with terms and cells replayed
from another query. Each is refused (PERMISSION_DENIED, audited at brand, the session dropped);
the one honest request returns exactly what the release rules release (an oracle decrypts the
same aggregates with brand's key and applies `release.profile`), and a cell the rules hide is
absent from it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from model.outcomes import COMBINED, DecryptedProfile
from model.results import OwnerProfile
from protocols.paillier import ciphertext_from_bytes
from protocols.paillier_attributes import CategoricalAttribute
from release.profile import released_profiles
from tests.adversary.deviating import (
    BRAND,
    OWNERS,
    PROFILE_ATTRIBUTES,
    RETAILER_A,
    Deployment,
    open_profile,
    owner_aggregate,
    querier_key,
)
from wire import node_serde as codec
from wire.v1 import node_pb2

pytestmark = pytest.mark.slow  # a deviating coordinator against a deployed querier node

SMALL = 3  # members a deviating coordinator selects: below the owners' k = 5


def _id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _aggregates(
    deployment: Deployment, query_id: str, small: bool = False, matched: bool = True
) -> dict[str, node_pb2.AggregateResponse]:
    """Open a profile query and collect both owners' signed aggregates as the coordinator; with
    `small`, retailer_a's indicators select only SMALL of its matches; without `matched`, every
    indicator is Enc(0) (the matching skipped: for requests refused before any decryption)."""
    opened = open_profile(deployment, query_id)
    public_key = querier_key(opened)

    def few(matched: np.ndarray) -> np.ndarray:
        chosen = np.zeros(len(matched), dtype=bool)
        chosen[np.flatnonzero(matched)[:SMALL]] = True
        return chosen

    return {
        owner: owner_aggregate(
            deployment,
            query_id,
            owner,
            public_key,
            few if small and owner == RETAILER_A else None,
            None if matched else opened[owner].set_size,
        )
        for owner in OWNERS
    }


def _release(
    deployment: Deployment,
    query_id: str,
    aggregates: list[node_pb2.AggregateResponse],
    combined: tuple[str, ...] = PROFILE_ATTRIBUTES,
) -> node_pb2.ReleaseProfileResponse:
    key = deployment.nodes[BRAND].service.querier_key
    assert key is not None
    request = node_pb2.ReleaseProfileRequest(
        query_id=query_id,
        key_fingerprint=key.public_key.fingerprint(),
        aggregates=aggregates,
        combined=combined,
    )
    response: node_pb2.ReleaseProfileResponse = deployment.node(BRAND).ReleaseProfile(request)
    return response


def _refused(deployment: Deployment, query_id: str, rule: str, *args: object) -> str:
    """The release is refused with PERMISSION_DENIED and nothing decrypted in the answer; brand's
    audit log holds the refusal under `rule`; brand's session is gone (NOT_FOUND after)."""
    with pytest.raises(grpc.RpcError) as caught:
        _release(deployment, query_id, *args)  # type: ignore[arg-type]
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, caught.value.details()
    details = caught.value.details() or ""
    assert "\n" not in details
    record = deployment.records(BRAND, query_id)[-1].record
    assert record.decision == "refused" and record.rule == rule
    assert details.endswith(record.error or "?")
    with pytest.raises(grpc.RpcError) as again:
        _release(deployment, query_id, *args)  # type: ignore[arg-type]
    assert isinstance(again.value, grpc.Call)
    assert again.value.code() == grpc.StatusCode.NOT_FOUND
    return details


def _close(deployment: Deployment, query_id: str) -> None:
    for party in deployment.nodes:
        deployment.node(party).CloseSession(
            node_pb2.CloseSessionRequest(query_id=query_id, outcome="failed", error="test over")
        )


def _oracle(
    deployment: Deployment, aggregates: dict[str, node_pb2.AggregateResponse]
) -> list[OwnerProfile]:
    """What the rules release: the test decrypts with brand's key and applies release.profile."""
    key = deployment.nodes[BRAND].service.querier_key
    assert key is not None
    decrypted = []
    for owner, message in aggregates.items():
        values = [ciphertext_from_bytes(key.public_key, c.ciphertext) for c in message.cells]
        cells = {
            (c.attribute, c.cell): key.decrypt_signed(v)
            for c, v in zip(message.cells, values, strict=True)
        }
        specs = tuple(codec.attribute_from_proto(a) for a in message.attributes)
        decrypted.append(DecryptedProfile(owner, specs, cells))
    combined = {name: sum(d.cells[name] for d in decrypted) for name in decrypted[0].cells}
    decrypted.append(DecryptedProfile(COMBINED, decrypted[0].specs, combined))
    terms = {o: (m.terms.min_cohort, m.terms.epsilon) for o, m in aggregates.items()}
    assert all(k == 5 for k, _ in terms.values())
    return released_profiles(decrypted, terms)


@pytest.fixture(scope="module")
def earlier(deployment: Deployment) -> Iterator[dict[str, node_pb2.AggregateResponse]]:
    """Both owners' signed aggregates of another query (never released): material to replay."""
    query_id = _id("earlier")
    aggregates = _aggregates(deployment, query_id, matched=False)
    yield aggregates
    _close(deployment, query_id)


def test_only_released_cells_leave_the_querier_node(deployment: Deployment) -> None:
    """The coordinator selects 3 of retailer_a's members (below k = 5): brand's node returns
    exactly what the rules release, and retailer_a's small overlap is not in it."""
    query_id = _id("small")
    aggregates = _aggregates(deployment, query_id, small=True)
    response = _release(deployment, query_id, list(aggregates.values()))
    released = codec.profiles_from_json(response.profiles_json)
    expected = _oracle(deployment, aggregates)
    assert [p.to_json() for p in released] == [p.to_json() for p in expected]
    assert [p.owner for p in released] == [*OWNERS, COMBINED]
    small = released[0]
    assert small.owner == RETAILER_A and small.overlap is None  # 3 < k: hidden, not sent
    assert small.release.k == 5 and small.release.suppressed > 0
    assert released[1].overlap is not None and released[1].overlap >= 5
    # a second release of the same query is refused (once per query)
    _refused(deployment, query_id, "release", list(aggregates.values()))
    _close(deployment, query_id)


@pytest.mark.parametrize("change", ["min_cohort", "epsilon", "set_size"])
def test_changed_terms_are_refused(deployment: Deployment, change: str) -> None:
    """k lowered to 1, an epsilon claimed, or a set size changed: not what retailer_a signed."""
    query_id = _id(f"terms-{change}")
    aggregates = _aggregates(deployment, query_id, matched=False)
    forged = node_pb2.AggregateResponse()
    forged.CopyFrom(aggregates[RETAILER_A])
    value = {"min_cohort": 1, "epsilon": 1.0, "set_size": forged.terms.set_size + 1}[change]
    setattr(forged.terms, change, value)
    message = _refused(deployment, query_id, "owner_terms", [forged, aggregates[OWNERS[1]]])
    assert "not those retailer_a signed" in message
    _close(deployment, query_id)


def test_one_owner_alone_is_refused(deployment: Deployment) -> None:
    """Asking for retailer_a's cells without retailer_b's aggregate (or with it twice)."""
    for label, count in (("alone", 1), ("twice", 2)):
        query_id = _id(label)
        aggregates = _aggregates(deployment, query_id, matched=False)
        message = _refused(deployment, query_id, "release", [aggregates[RETAILER_A]] * count)
        assert "one aggregate of each of its owners" in message
        _close(deployment, query_id)


@pytest.mark.parametrize("replayed", ["whole aggregate", "cells only"])
def test_terms_and_cells_from_another_query_are_refused(
    deployment: Deployment, earlier: dict[str, node_pb2.AggregateResponse], replayed: str
) -> None:
    """retailer_a's signed aggregate of an earlier query, or its cells under this query's terms."""
    query_id = _id("replay")
    aggregates = _aggregates(deployment, query_id, matched=False)
    forged = node_pb2.AggregateResponse()
    forged.CopyFrom(aggregates[RETAILER_A])
    if replayed == "whole aggregate":
        forged.CopyFrom(earlier[RETAILER_A])
    else:
        del forged.cells[:]
        forged.cells.extend(earlier[RETAILER_A].cells)
    _refused(deployment, query_id, "owner_terms", [forged, aggregates[OWNERS[1]]])
    _close(deployment, query_id)


def test_a_heavily_weighted_member_shows_in_exact_mode(deployment: Deployment) -> None:
    """What a deviating coordinator can still do (README "If the coordinator deviates"): Enc(1)
    for retailer_a's matches as it should, plus Enc(W) for one matched position, W as large as
    plausibility lets it (overlap <= min(|Q|, |D|)). Every cell stays plausible and above k, so
    against an exact-mode owner the released bins show that one (unidentified) member's bin in
    every categorical attribute: the largest bin, W above the others."""
    query_id = _id("weighted")
    opened = open_profile(deployment, query_id)
    public_key = querier_key(opened)
    cap = min(opened[BRAND].set_size, opened[RETAILER_A].set_size)
    chosen: list[int] = []

    def one_member_heavy(matched: np.ndarray) -> np.ndarray:
        weights = matched.astype(np.int64)
        chosen.append(int(np.flatnonzero(matched)[0]))
        weights[chosen[0]] += cap - int(matched.sum())
        return weights

    aggregates = {
        owner: owner_aggregate(
            deployment,
            query_id,
            owner,
            public_key,
            one_member_heavy if owner == RETAILER_A else None,
        )
        for owner in OWNERS
    }
    # the oracle: the chosen member's values, read from retailer_a's session (its secret order)
    session = deployment.nodes[RETAILER_A].service.sessions.get(query_id)
    truth = {spec.name: session.attributes[spec.name][chosen[0]] for spec in session.specs}
    response = _release(deployment, query_id, list(aggregates.values()))
    released = codec.profiles_from_json(response.profiles_json)
    assert [p.to_json() for p in released] == [p.to_json() for p in _oracle(deployment, aggregates)]
    heavy = released[0]
    assert heavy.owner == RETAILER_A and heavy.overlap == cap
    read = 0
    for spec in session.specs:
        if not isinstance(spec, CategoricalAttribute):
            continue
        bins = heavy.categorical[spec.name]
        assert all(n is not None for n in bins.values()), f"{spec.name} bins hidden: {bins}"
        guess = max(bins, key=lambda b: bins[b] or 0)
        value = truth[spec.name]
        assert guess == (value if value in spec.domain else "other"), (spec.name, bins, value)
        read += 1
    assert read >= 2
    _close(deployment, query_id)
