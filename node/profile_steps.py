"""The node's steps of a profile query: the owner's attributes and key, aggregation, release."""

from __future__ import annotations

from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from model.errors import QueryRefused
from model.results import OwnerProfile
from node.admission import Admission
from node.config import NodeConfig
from node.decryption import QuerierDecryption
from node.governance import NodeGovernance
from node.owner_terms import owner_terms
from node.profile_release import ProfileRelease, ReleaseRequest
from node.querier_key import accept_querier_key
from node.sessions import SessionStore
from protocols.masks import MaskPool, build_mask_table
from protocols.paillier import PaillierPublicKey
from protocols.plausibility import OwnerTerms
from protocols.profile import Attribute, OwnerAggregate
from protocols.profile_parties import ProfileOwner
from runtime.executor import CryptoExecutor

MAX_DECRYPT_CELLS = 4096


class ProfileSteps:
    """An owner's aggregation of its attributes, and the querier's decryption and release."""

    def __init__(
        self,
        config: NodeConfig,
        executor: CryptoExecutor,
        governance: NodeGovernance,
        sessions: SessionStore,
        decryption: QuerierDecryption | None,
        profile_release: ProfileRelease,
        signing_key: Ed25519PrivateKey | None,
    ) -> None:
        self.config = config
        self.executor = executor
        self.governance = governance
        self.sessions = sessions
        self.decryption = decryption
        self.profile_release = profile_release
        self.signing_key = signing_key
        self._seal_pools: dict[bytes, MaskPool] = {}

    def owner_specs(self, role: str, attributes: tuple[str, ...]) -> tuple[Attribute, ...]:
        """An owner's declared attributes named by the query (none for other roles)."""
        if role != "owner":
            return ()
        if not attributes:
            raise QueryRefused("a profile query names at least one attribute")
        unknown = [a for a in attributes if a not in self.config.attributes]
        if unknown:
            declared = ", ".join(sorted(self.config.attributes)) or "none"
            raise QueryRefused(
                f"attribute {', '.join(map(repr, unknown))} is not declared by "
                f"{self.config.party!r} (declared: {declared})"
            )
        if len(set(attributes)) != len(attributes):
            raise QueryRefused("an attribute is named twice")
        return tuple(self.config.attributes[a] for a in attributes)

    def owner_key(
        self,
        admission: Admission,
        role: str,
        query_id: str,
        paillier_n: int | None,
        signature: bytes,
    ) -> PaillierPublicKey | None:
        """An owner's view of the querier's key: checked, bound to this query, or refused."""
        if role != "owner":
            return None
        return accept_querier_key(self.governance, admission, query_id, paillier_n, signature)

    def aggregate(
        self, query_id: str, fingerprint: bytes, chunks: Iterator[bytes]
    ) -> OwnerAggregate:
        """Aggregate the owner's attributes against encrypted indicators, in the owner's order.

        The session's `ProfileOwner` (protocols/profile_parties.py) cuts the indicators into
        chunks, aggregated in the worker pool as they arrive; the caller's framing has checked
        the stream's trailer before the partial aggregates are combined, noised with the
        owner's epsilon, sealed and returned.
        """
        session = self.sessions.get(query_id)
        if session.role != "owner" or session.paillier_n is None:
            raise QueryRefused(f"query {query_id} has no owner session at {self.config.party!r}")
        public_key = PaillierPublicKey(session.paillier_n)
        owner = ProfileOwner(
            public_key, session.specs, session.attributes, len(session.elements), self.config.party
        )
        partials = self.executor.aggregate(owner.indicator_chunks(fingerprint, chunks))
        admission = session.admission
        epsilon = admission.epsilon if admission is not None else 0.0
        sealed = owner.seal(partials, self._seal_pool(public_key), epsilon)
        if admission is not None:
            # the noised aggregate leaves now: charged for good, whatever the querier does next
            self.governance.charge(admission)
        return sealed

    def _seal_pool(self, public_key: PaillierPublicKey) -> MaskPool:
        pool = self._seal_pools.get(public_key.fingerprint())
        if pool is None:
            pool = MaskPool(public_key, build_mask_table(public_key))
            self._seal_pools[public_key.fingerprint()] = pool
        return pool

    def owner_terms(self, query_id: str, aggregate: OwnerAggregate) -> tuple[OwnerTerms, bytes]:
        """As owner: this query's terms, signed with `aggregate` (node/owner_terms.py)."""
        session = self.sessions.get(query_id)
        return owner_terms(session, self.config.party, self.signing_key, aggregate)

    def release_profile(self, request: ReleaseRequest) -> list[OwnerProfile]:
        """As querier: decrypt every owner's signed aggregate, if plausible (node/decryption.py),
        and return only what the release rules release under the owners' signed terms
        (node/profile_release.py): the plaintexts go to the release rules, never out."""
        query_id, aggregates = request.query_id, request.aggregates
        session = self.sessions.get(query_id)
        decryption = self.decryption
        if session.role != "querier" or decryption is None:
            raise QueryRefused(f"query {query_id} has no querier session at {self.config.party!r}")
        # malformed cells: INVALID_ARGUMENT, before any governance
        decryption.querier.check(request.fingerprint, [signed.aggregate for signed in aggregates])
        return self.profile_release.release(session, aggregates, request.combined, decryption)
