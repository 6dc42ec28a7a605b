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
from node.owner_terms import SignedAggregate, owner_terms
from node.profile_release import Decrypt, ProfileRelease
from node.querier_key import accept_querier_key
from node.sessions import SessionStore
from protocols.masks import MaskPool, build_mask_table
from protocols.owner_noise import noised_aggregate
from protocols.paillier import InvalidCiphertext, PaillierPublicKey, check_ciphertexts
from protocols.plausibility import Cell, OwnerTerms
from protocols.profile import (
    Attribute,
    OwnerAggregate,
    aggregate_rows,
    combine_aggregates,
    seal_aggregate,
)
from runtime.executor import CryptoExecutor, aggregate_chunk

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

        Chunks are aggregated in the worker pool as they arrive; the caller's framing has checked
        the stream's trailer before the partial aggregates are combined, sealed and returned.
        """
        session = self.sessions.get(query_id)
        if session.role != "owner" or session.paillier_n is None:
            raise QueryRefused(f"query {query_id} has no owner session at {self.config.party!r}")
        public_key = PaillierPublicKey(session.paillier_n)
        if fingerprint != public_key.fingerprint():
            raise InvalidCiphertext(
                "indicators are encrypted against a different key than the query's"
            )
        width = public_key.ciphertext_width
        specs = session.specs
        rows = len(session.elements)

        def tasks() -> Iterator[tuple[object, ...]]:
            start = 0
            for batch in _batched(chunks, AGGREGATE_ROWS * width):
                count = len(batch) // width
                if start + count > rows:
                    raise QueryRefused(
                        f"more indicators than the {rows} members of {self.config.party!r}"
                    )
                values = {s.name: session.attributes[s.name][start : start + count] for s in specs}
                yield (public_key.n, fingerprint, batch, values, specs)
                start += count
            if start != rows:
                raise QueryRefused(
                    f"{start} indicators for the {rows} members of {self.config.party!r}"
                )

        partials = list(self.executor.map_ordered(aggregate_chunk, tasks()))
        if not partials:
            partials = [aggregate_rows(public_key, [], {s.name: [] for s in specs}, specs)]
        combined = combine_aggregates(public_key, partials)
        if session.admission is not None and session.admission.epsilon > 0:
            combined = noised_aggregate(public_key, combined, session.admission.epsilon)
        sealed = seal_aggregate(public_key, combined, self._seal_pool(public_key))
        if session.admission is not None:
            # the noised aggregate leaves now: charged for good, whatever the querier does next
            self.governance.charge(session.admission)
        return sealed

    def _seal_pool(self, public_key: PaillierPublicKey) -> MaskPool:
        pool = self._seal_pools.get(public_key.fingerprint())
        if pool is None:
            pool = MaskPool(public_key, build_mask_table(public_key))
            self._seal_pools[public_key.fingerprint()] = pool
        return pool

    def decrypt(
        self,
        query_id: str,
        fingerprint: bytes,
        ciphertexts: list[bytes],
        names: list[Cell],
        owner: str,
        owners: list[OwnerTerms],
        specs: tuple[Attribute, ...],
    ) -> list[int]:
        """Decrypt one owner's (or the combined) aggregate cells, if plausible (``decryption``);
        only `release_profile` calls it: the plaintexts go to the release rules, never out."""
        session = self.sessions.get(query_id)
        if session.role != "querier" or self.decryption is None:
            raise QueryRefused(f"query {query_id} has no querier session at {self.config.party!r}")
        if len(ciphertexts) > MAX_DECRYPT_CELLS:
            raise QueryRefused(f"at most {MAX_DECRYPT_CELLS} aggregate cells per request")
        return self.decryption.decrypt(
            session, fingerprint, ciphertexts, names, owner, owners, specs
        )

    def owner_terms(self, query_id: str, aggregate: OwnerAggregate) -> tuple[OwnerTerms, bytes]:
        """As owner: this query's terms, signed with `aggregate` (node/owner_terms.py)."""
        session = self.sessions.get(query_id)
        return owner_terms(session, self.config.party, self.signing_key, aggregate)

    def release_profile(
        self,
        query_id: str,
        fingerprint: bytes,
        aggregates: list[SignedAggregate],
        combined: list[str],
        decrypt: Decrypt,
    ) -> list[OwnerProfile]:
        """As querier: decrypt every owner's signed aggregate through `decrypt` and return only
        what the release rules release under the owners' signed terms (node/profile_release.py)."""
        session = self.sessions.get(query_id)
        if session.role != "querier" or self.decryption is None:
            raise QueryRefused(f"query {query_id} has no querier session at {self.config.party!r}")
        public_key = self.decryption.key.public_key
        if fingerprint != public_key.fingerprint():
            raise InvalidCiphertext("aggregates are encrypted against a different key")
        for signed in aggregates:  # malformed cells: INVALID_ARGUMENT, before any governance
            check_ciphertexts(public_key, signed.aggregate.ciphertexts(), fingerprint)
        return self.profile_release.release(session, public_key, aggregates, combined, decrypt)


AGGREGATE_ROWS = 8192
"""Indicator rows per aggregation task: stream chunks (1 MiB, 1,365 rows at 3072 bits) are
joined up to this, since the bucketed products cost less per row over more rows (measured at
3072 bits: about 125 us per row at 8,192 rows against 180 us at 1,365)."""


def _batched(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """The chunks joined into pieces of at least `size` bytes (the last may be smaller)."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)
