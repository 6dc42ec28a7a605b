"""The node's steps run the protocol objects that the oracle tests check (test_psi, test_profile).

Each test drives a node step (node/set_blinding.py, node/profile_steps.py, node/decryption.py)
through a real worker pool and runs the protocol object in this process on the same input and
key: the bytes must be identical, or, where sealing draws fresh masks, the plaintexts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from connectors.identifiers import IdType
from connectors.members import LoadTally
from connectors.source_spec import SourceSpec
from model.sizes import CHUNK_ITEMS
from node.config import NodeConfig
from node.decryption import QuerierDecryption
from node.governance import NodeGovernance
from node.member_cache import CachedMembers
from node.profile_release import ProfileRelease
from node.profile_steps import ProfileSteps
from node.sessions import QuerySession, SessionStore
from node.set_blinding import ReblindRequest, SetBlinding
from node.unblinding import Unblinding
from protocols import indicators
from protocols.group_names import KNOWN_GROUPS
from protocols.groups import group
from protocols.masks import generate_masks
from protocols.paillier_attributes import Attribute, CategoricalAttribute, NumericAttribute
from protocols.plausibility import OwnerTerms
from protocols.profile import ciphertext_count
from protocols.profile_parties import ProfileOwner, ProfileQuerier
from protocols.psi import POINT_BYTES, PsiParty
from runtime.executor import CryptoExecutor
from tests.protocols.test_paillier_support import cached_keypair, cached_table

BRAND, RETAILER = "brand", "retailer_a"
ELEMENTS = [f"email:m{i}@example.cn".encode() for i in range(2000)]


@pytest.fixture(scope="module")
def executor() -> Iterator[CryptoExecutor]:
    pool = CryptoExecutor(1)
    yield pool
    pool.shutdown()


def _session(
    query_id: str,
    party: PsiParty,
    elements: list[bytes],
    kind: str = "overlap",
    role: str = "member",
    **more: object,
) -> QuerySession:
    return QuerySession(
        query_id=query_id,
        kind=kind,
        role=role,
        id_type=IdType.EMAIL,
        parties=(BRAND, RETAILER),
        elements=elements,
        report=LoadTally("members.csv"),
        psi=party,
        **more,  # type: ignore[arg-type]
    )


def _blinding(executor: CryptoExecutor, sessions: SessionStore, party: str) -> SetBlinding:
    """A node's set blinding as NodeService builds it (run without a policy)."""
    governance = NodeGovernance(party, audit=None)
    unblinding = Unblinding(party, governance, None, sessions)
    return SetBlinding(executor, governance, sessions, unblinding)


def _chunks(points: bytes, items: int = 300) -> Iterator[bytes]:
    step = items * POINT_BYTES
    return iter([points[i : i + step] for i in range(0, len(points), step)])


def _points(buffer: bytes) -> Counter[bytes]:
    return Counter(buffer[i : i + POINT_BYTES] for i in range(0, len(buffer), POINT_BYTES))


@pytest.mark.parametrize("group_name", KNOWN_GROUPS)
def test_own_set_is_the_party_blinding_its_set(executor: CryptoExecutor, group_name: str) -> None:
    sessions = SessionStore()
    blinding = _blinding(executor, sessions, RETAILER)
    elements = [f"email:{i}@example.cn".encode() for i in range(CHUNK_ITEMS + 100)]  # 2 chunks
    party = PsiParty.fresh(len(elements), group_name)
    in_order = [elements[i] for i in party.order]
    sessions.add(_session("own", party, in_order))
    assert b"".join(blinding.own_set("own")) == party.blind_own_set(in_order)


@pytest.mark.parametrize("group_name", KNOWN_GROUPS)
def test_cached_points_blind_as_the_party_does(executor: CryptoExecutor, group_name: str) -> None:
    """The first query keeps its hash-to-group points in load order; the next one blinds them
    in its own secret order: both equal their party blinding its elements."""
    sessions = SessionStore()
    blinding = _blinding(executor, sessions, RETAILER)
    cached = CachedMembers(ELEMENTS, {}, LoadTally("members.csv"))
    for query_id in ("first", "second"):
        party = PsiParty.fresh(len(ELEMENTS), group_name)
        in_order = [ELEMENTS[i] for i in party.order]
        sessions.add(_session(query_id, party, in_order, cached=cached))
        assert b"".join(blinding.own_set(query_id)) == party.blind_own_set(in_order)
        assert cached.points is not None
        assert bytes(cached.points) == group(group_name).hash_points(ELEMENTS)
        assert cached.points_group == group_name


def test_reblind_is_the_party_reblinding(executor: CryptoExecutor) -> None:
    sessions = SessionStore()
    blinding = _blinding(executor, sessions, RETAILER)
    party = PsiParty.fresh()
    sessions.add(_session("reblind", party, []))
    received = PsiParty.fresh().blind_own_set(ELEMENTS)
    expected = party.reblind(received)
    kept = ReblindRequest("reblind", set_owner=BRAND, preserve_order=True)
    assert b"".join(blinding.reblind(kept, _chunks(received)).points) == expected
    shuffled = b"".join(blinding.reblind(ReblindRequest("reblind"), _chunks(received)).points)
    assert shuffled != expected and _points(shuffled) == _points(expected)


def test_unblind_is_the_party_taking_its_key_off(executor: CryptoExecutor) -> None:
    """The querier's node takes its key off its set as the owner re-blinded it: what is left is
    the owner's key alone on the querier's elements."""
    sessions = SessionStore()
    blinding = _blinding(executor, sessions, BRAND)
    querier, owner = PsiParty.fresh(len(ELEMENTS)), PsiParty.fresh()
    in_order = [ELEMENTS[i] for i in querier.order]
    sessions.add(_session("unblind", querier, in_order, kind="profile", role="querier"))
    reblinded = owner.reblind(querier.blind_own_set(in_order))
    request = ReblindRequest("unblind", set_owner=BRAND, unblind=True, reblinded_by=RETAILER)
    unblinded = b"".join(blinding.reblind(request, _chunks(reblinded)).points)
    assert _points(unblinded) == _points(querier.unblind(reblinded))
    assert _points(unblinded) == _points(owner.blind_own_set(ELEMENTS))


SPECS: tuple[Attribute, ...] = (
    CategoricalAttribute("tier", ("gold", "silver")),
    NumericAttribute("age", lower=18.0, upper=80.0, scale=1),
)


def test_the_owner_and_querier_nodes_run_the_profile_parties(executor: CryptoExecutor) -> None:
    """ProfileSteps.aggregate (chunks in the pool) and ProfileOwner.aggregate (in process) on
    the same indicators decrypt alike; the querier's node decrypts as ProfileQuerier does."""
    public_key, private_key = cached_keypair()
    rows = 300
    rng = np.random.default_rng(4)
    tiers: list[object] = [["gold", "silver", "tin", None][i % 4] for i in range(rows)]
    ages: list[object] = [float(a) if a < 90 else None for a in rng.integers(10, 100, rows)]
    columns = {"tier": tiers, "age": ages}
    matched = rng.random(rows) < 0.5
    data = indicators.encrypt_indicators(public_key, matched, generate_masks(cached_table(), rows))
    step = 64 * public_key.ciphertext_width
    chunks = [data[i : i + step] for i in range(0, len(data), step)]

    sessions = SessionStore()
    governance = NodeGovernance(RETAILER, audit=None)
    config = NodeConfig(RETAILER, "127.0.0.1:0", SourceSpec(kind="csv", path="m.csv"), ())
    release = ProfileRelease(RETAILER, governance, sessions)
    steps = ProfileSteps(config, executor, governance, sessions, None, release, None)
    sessions.add(
        _session(
            "profile",
            PsiParty.fresh(rows),
            [b""] * rows,
            kind="profile",
            role="owner",
            paillier_n=public_key.n,
            specs=SPECS,
            attributes=columns,
        )
    )
    from_node = steps.aggregate("profile", public_key.fingerprint(), iter(chunks))
    owner = ProfileOwner(public_key, SPECS, columns, rows, RETAILER)
    masks = generate_masks(cached_table(), ciphertext_count(SPECS))
    from_object = owner.aggregate(public_key.fingerprint(), chunks, masks)
    assert from_node.sealed and from_object.sealed
    assert from_node.ciphertexts() != from_object.ciphertexts()  # fresh masks each

    querier = ProfileQuerier(private_key)
    expected = querier.decrypt_cells(from_object)
    assert querier.decrypt_cells(from_node) == expected
    assert expected[0] == int(matched.sum())

    brand_sessions = SessionStore()
    decryption = QuerierDecryption(private_key, NodeGovernance(BRAND, audit=None), brand_sessions)
    asked = _session("profile", PsiParty.fresh(), [b""] * rows, kind="profile", role="querier")
    brand_sessions.add(asked)
    terms = [OwnerTerms(RETAILER, rows, 0.0, 0)]
    assert decryption.decrypt(asked, from_node, RETAILER, terms) == expected
