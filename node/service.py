"""The node's logic for overlap steps: open a session, stream its blinded set, re-blind others'."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from connectors.identifiers import SERVES, IdType
from connectors.members import LoadTally, load_members
from connectors.opener import open_source
from model.errors import GovernanceRefusal, QueryRefused, SessionNotFound
from model.node import NodeDescription, SessionOpened
from model.results import OwnerProfile
from node.admission import Admission
from node.attributes import attribute_column
from node.config import NodeConfig
from node.decryption import QuerierDecryption
from node.display_labels import labels_for
from node.governance import NodeGovernance
from node.member_cache import MAX_CACHED_POINTS, CachedMembers, MemberCache, source_version
from node.owner_terms import SignedAggregate, owner_terms
from node.profile_release import ProfileRelease
from node.querier_key import KeyBindingSigner, accept_querier_key
from node.segments import check_segment_column, segment_rows
from node.sessions import QuerySession, SessionStore
from node.unblinding import Unblinding
from protocols import psi
from protocols.group_names import LEGACY_GROUP
from protocols.groups import group
from protocols.masks import MaskPool, build_mask_table
from protocols.owner_noise import noised_aggregate
from protocols.paillier import (
    InvalidCiphertext,
    PaillierPrivateKey,
    PaillierPublicKey,
    check_ciphertexts,
)
from protocols.plausibility import Cell, OwnerTerms
from protocols.profile import (
    Attribute,
    CategoricalAttribute,
    OwnerAggregate,
    aggregate_rows,
    combine_aggregates,
    seal_aggregate,
)
from runtime.audit import SignedHead, Witness, settle_witness
from runtime.executor import CryptoExecutor, aggregate_chunk
from runtime.signing import Segment, SignedQuery, load_signing_key, signed_groups
from wire.streams import chunk_payloads

QUERY_KINDS = ("overlap", "profile")


MAX_DECRYPT_CELLS = 4096


class NodeService:
    """Serves one party's steps of queries over its configured member source."""

    def __init__(
        self,
        config: NodeConfig,
        executor: CryptoExecutor,
        sessions: SessionStore | None = None,
        querier_key: PaillierPrivateKey | None = None,
        governance: NodeGovernance | None = None,
    ) -> None:
        self.config = config
        self.executor = executor
        self.governance = governance or NodeGovernance(config.party, audit=None)
        self.sessions = sessions or SessionStore(on_expire=self._expired)
        self.querier_key = querier_key
        self.member_cache = MemberCache()
        self._seal_pools: dict[bytes, MaskPool] = {}
        # cached loads' set fingerprints, by id of the load (while it lives)
        self._fingerprints: dict[int, tuple[weakref.ref[CachedMembers], str]] = {}
        signing_key = load_signing_key(config.signing_key) if config.signing_key else None
        self.unblinding = Unblinding(config.party, self.governance, signing_key)
        self.key_signer = KeyBindingSigner(signing_key)
        self.decryption = (
            QuerierDecryption(querier_key, self.governance, self.sessions) if querier_key else None
        )
        self.profile_release = ProfileRelease(config.party, self.governance, self.sessions)

    def describe(self) -> NodeDescription:
        """Party name, servable identifier types and the normalisation profile label."""
        id_types = sorted({t.value for c in self.config.identifiers for t in SERVES[c.kind]})
        return NodeDescription(
            self.config.party,
            tuple(id_types),
            self.config.normalisation.label(),
            self.config.psi_groups,
        )

    def open_session(
        self,
        query_id: str,
        kind: str,
        role: str,
        id_type: str,
        profile_version: str,
        parties: tuple[str, ...],
        attributes: tuple[str, ...] = (),
        paillier_n: int | None = None,
        signed: SignedQuery | None = None,
        requester: str = "",
        paillier_key_signature: bytes = b"",
        querier_set: str = "",
        psi_group: str = "",
    ) -> SessionOpened:
        """Admit the query (signature, policy, caps, budget), load members, draw a fresh key.

        Refusals are audited by the governance; any later failure settles the admission as
        failed (logged; the query stays counted, its epsilon is refunded since nothing left
        this node yet) before the error is reported. `querier_set` is the querier node's
        fingerprint of its set, part of the key under which an identical repeat is cached.
        """
        admission = self.governance.admit(
            query_id, kind, id_type, parties, attributes, signed, requester, querier_set
        )
        try:
            return self._open(
                admission,
                query_id,
                kind,
                role,
                id_type,
                profile_version,
                parties,
                attributes,
                paillier_n,
                paillier_key_signature,
                _accept_group(self.config.party, self.config.psi_groups, psi_group, signed),
            )
        except Exception as error:
            self.governance.settle(admission, "failed", error=str(error) or type(error).__name__)
            raise

    def _open(
        self,
        admission: Admission,
        query_id: str,
        kind: str,
        role: str,
        id_type: str,
        profile_version: str,
        parties: tuple[str, ...],
        attributes: tuple[str, ...],
        paillier_n: int | None,
        paillier_key_signature: bytes = b"",
        group_name: str = LEGACY_GROUP,
    ) -> SessionOpened:
        if not query_id or len(query_id) > 128:
            raise QueryRefused("query id must be 1 to 128 characters")
        if kind not in QUERY_KINDS:
            raise QueryRefused(f"unknown query kind {kind!r}")
        if self.config.party not in parties:
            raise QueryRefused(
                f"party {self.config.party!r} is not among the query's parties {list(parties)}"
            )
        expected = self.config.normalisation.label()
        if profile_version != expected:
            raise QueryRefused(
                f"normalisation profile {profile_version!r} does not match this node's "
                f"{expected!r} (party {self.config.party!r})"
            )
        try:
            wanted = IdType(id_type)
        except ValueError:
            known = ", ".join(t.value for t in IdType)
            raise QueryRefused(f"unknown id type {id_type!r}; known: {known}") from None
        specs = self._owner_specs(role, attributes)
        public_key = self._owner_key(admission, role, query_id, paillier_n, paillier_key_signature)
        if role == "querier" and self.querier_key is None:
            raise QueryRefused(
                f"party {self.config.party!r} holds no Paillier key pair; set [paillier] key_file"
            )
        if role == "querier" and admission.segment is not None:
            loaded = self._load_segment(wanted, admission.segment)
        else:
            loaded = self._load(wanted, specs)
        table, columns = loaded, loaded.columns
        order = psi.secure_permutation(len(loaded.elements))  # type: ignore[arg-type]
        session = QuerySession(
            query_id=query_id,
            kind=kind,
            role=role,
            id_type=wanted,
            parties=parties,
            elements=loaded.elements.take(order),  # type: ignore[attr-defined]
            report=table.report,
            attributes={name: [values[i] for i in order] for name, values in columns.items()},
            paillier_n=public_key.n if public_key else None,
            specs=specs,
            admission=admission,
            order=order,
            cached=loaded.entry if loaded.cacheable else None,
            key=psi.BlindingKey.fresh(group_name),
            group=group_name,
        )
        self.sessions.add(session)
        return SessionOpened(
            self.config.party,
            len(session.elements),
            table.report,
            paillier_n=self.querier_key.public_key.n
            if role == "querier" and self.querier_key
            else None,
            attributes=specs,
            min_cohort=admission.min_cohort,
            epsilon=admission.epsilon,
            cached_answer=admission.cached_answer or "",
            paillier_key_signature=self.key_signer.sign(query_id, self.querier_key.public_key)
            if role == "querier" and self.querier_key
            else b"",
            set_fingerprint=self._set_fingerprint(admission, loaded),
            labels=labels_for(self.config.labels, specs),
        )

    def _set_fingerprint(self, admission: Admission, loaded: _Loaded) -> str:
        """This node's fingerprint of its set when its own party is the querier (else "");
        kept with a cached load, since it depends on the members only, not on their order."""
        if admission.querier != self.config.party:
            return ""
        if not loaded.cacheable:
            return self.governance.fingerprint(loaded.elements)  # type: ignore[arg-type]
        held = self._fingerprints.get(id(loaded.entry))
        if held is not None and held[0]() is loaded.entry:
            return held[1]
        known = self.governance.fingerprint(loaded.elements)  # type: ignore[arg-type]
        self._fingerprints = {k: v for k, v in self._fingerprints.items() if v[0]() is not None}
        self._fingerprints[id(loaded.entry)] = (weakref.ref(loaded.entry), known)
        return known

    def _load(self, wanted: IdType, specs: tuple[Attribute, ...]) -> _Loaded:
        """The members for `wanted` with `specs`' columns: from the cache while the file is
        unchanged, else read, normalised and de-duplicated now."""
        column = self.config.column_for(wanted)
        version = source_version(self.config.source)
        key = (
            version,
            column.column,
            column.kind.value,
            wanted.value,
            self.config.normalisation.label(),
            specs,
        )
        if version is not None:
            hit = self.member_cache.get(key)
            if hit is not None:
                return _Loaded(hit.elements, hit.columns, hit.report, hit, True)
        table = load_members(
            open_source(self.config.source),
            column.column,
            column.kind,
            wanted,
            self.config.normalisation,
            attributes=[s.name for s in specs],
            chunk_rows=self.config.chunk_rows,
        )
        columns = {
            spec.name: attribute_column(spec, table.attributes[spec.name], table.report.source)
            for spec in specs
        }
        entry = CachedMembers(table.elements, columns, table.report)
        cacheable = version is not None and source_version(self.config.source) == version
        if cacheable:
            self.member_cache.put(key, entry)
        return _Loaded(table.elements, columns, table.report, entry, cacheable)

    def _load_segment(self, wanted: IdType, segment: Segment) -> _Loaded:
        """The querier's members in `segment` (node.segments): its column loaded beside the
        identifiers (cached like any load), then the matching members only, not cached."""
        columns = open_source(self.config.source).columns()
        check_segment_column(columns, segment, self.config.party)
        spec = CategoricalAttribute(segment.column, (segment.value,))
        whole = self._load(wanted, (spec,))
        keep = segment_rows(whole.columns[segment.column], segment, self.config.party)
        elements = whole.elements.take(keep)  # type: ignore[attr-defined]
        entry = CachedMembers(elements, {}, whole.report)
        return _Loaded(elements, {}, whole.report, entry, False)

    def _owner_specs(self, role: str, attributes: tuple[str, ...]) -> tuple[Attribute, ...]:
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

    def _owner_key(
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
            for chunk in chunks:
                count = len(chunk) // width
                if start + count > rows:
                    raise QueryRefused(
                        f"more indicators than the {rows} members of {self.config.party!r}"
                    )
                values = {s.name: session.attributes[s.name][start : start + count] for s in specs}
                yield (public_key.n, fingerprint, chunk, values, specs)
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
        return owner_terms(session, self.config.party, self.unblinding.signing_key, aggregate)

    def release_profile(
        self,
        query_id: str,
        fingerprint: bytes,
        aggregates: list[SignedAggregate],
        combined: list[str],
    ) -> list[OwnerProfile]:
        """As querier: decrypt every owner's signed aggregate and return only what the release
        rules release under the owners' signed terms (node/profile_release.py)."""
        session = self.sessions.get(query_id)
        if session.role != "querier" or self.decryption is None:
            raise QueryRefused(f"query {query_id} has no querier session at {self.config.party!r}")
        public_key = self.decryption.key.public_key
        if fingerprint != public_key.fingerprint():
            raise InvalidCiphertext("aggregates are encrypted against a different key")
        for signed in aggregates:  # malformed cells: INVALID_ARGUMENT, before any governance
            check_ciphertexts(public_key, signed.aggregate.ciphertexts(), fingerprint)
        return self.profile_release.release(
            session, public_key, aggregates, combined, lambda *call: self.decrypt(*call)
        )

    def own_set(self, query_id: str) -> Iterator[bytes]:
        """The session's elements, hashed and blinded with its key, in its secret order.

        With the load cached, the hash-to-group points are made once and kept (in load order);
        later queries over the unchanged file only multiply them by their fresh key. In an
        overlap the coordinator noises the counts made from this set, so its epsilon is charged
        for good before the first point leaves.
        """
        session = self.sessions.get(query_id)
        if session.kind == "overlap" and session.admission is not None:
            self.governance.charge(session.admission)
        scalar = session.key.scalar
        cached: CachedMembers | None = session.cached
        if cached is None:
            return self.executor.blind_elements(session.elements, scalar, session.group)
        with cached.lock:  # the points of one group, kept by an earlier query (maybe another group)
            points = cached.points if cached.points_group == session.group else None
        if points is not None:
            rows = np.frombuffer(points, dtype=np.uint8).reshape(-1, 32)
            shuffled = rows[session.order].tobytes()
            return self.executor.blind_points(
                chunk_payloads(iter((shuffled,)), 32), scalar, session.group
            )
        order = session.order
        keep = len(order) <= MAX_CACHED_POINTS

        def blinded() -> Iterator[bytes]:
            hashed: list[bytes] = []
            for hashes, chunk in self.executor.blind_elements_keeping_hashes(
                session.elements, scalar, session.group
            ):
                if keep:
                    hashed.append(hashes)
                yield chunk
            if keep:
                in_order = np.empty((len(order), 32), dtype=np.uint8)
                in_order[order] = np.frombuffer(b"".join(hashed), dtype=np.uint8).reshape(-1, 32)
                with cached.lock:
                    cached.points = in_order.tobytes()
                    cached.points_group = session.group

        return blinded()

    def reblind(
        self,
        query_id: str,
        chunks: Iterator[bytes],
        preserve_order: bool,
        set_owner: str = "",
        unblind: bool = False,
        reblinded_by: str = "",
        reblind_signature: bytes = b"",
    ) -> Reblinded:
        """Multiply every received point by the session key; reshuffle unless told not to.

        Every point is validated in the workers. A reshuffled set is read whole (and its trailer
        checked by the caller's framing) before anything is sent back; an order-preserving one
        streams through chunk by chunk, and a bad trailer still fails the call, so the
        coordinator never completes a query from part of a set. An owner of a profile query
        signs its re-blinding of the querier's set; `unblind` takes the key off instead, only
        as node/unblinding.py allows (a refusal ends the query at this node).
        """
        session = self.sessions.get(query_id)
        if unblind:
            return Reblinded(
                self._unblind(session, chunks, set_owner, reblinded_by, reblind_signature)
            )
        admission = session.admission
        counted = _Counted(chunks)
        if admission is not None:
            counted.limit = lambda points: self.governance.check_received(
                admission, set_owner, points
            )
        blinded = self.executor.blind_points(counted, session.key.scalar, session.group)

        def checked() -> Iterator[bytes]:
            yield from blinded
            if session.admission is not None:
                self.governance.check_counterparty(session.admission, set_owner, counted.points)

        if preserve_order:
            return Reblinded(checked())
        points = psi.shuffle_points(b"".join(checked()))
        try:
            signature = self.unblinding.owner_signature(session, set_owner, points)
        except GovernanceRefusal:
            self.sessions.close(query_id)
            raise
        return Reblinded(iter((points,)), signature)

    def _unblind(
        self,
        session: QuerySession,
        chunks: Iterator[bytes],
        set_owner: str,
        owner: str,
        signature: bytes,
    ) -> Iterator[bytes]:
        """The querier's own set as `owner` re-blinded and signed it, with this node's key
        taken off and reshuffled; read whole and checked before any point is touched."""
        points = b"".join(chunks)
        try:
            self.unblinding.check(session, set_owner, owner, signature, points)
        except GovernanceRefusal:
            self.sessions.close(session.query_id)
            raise
        scalar = group(session.group).invert_scalar(session.key.scalar)
        unblinded = self.executor.blind_points(
            chunk_payloads(iter((points,)), 32), scalar, session.group
        )
        return iter((psi.shuffle_points(b"".join(unblinded)),))

    def close(
        self,
        query_id: str,
        outcome: str = "failed",
        answer_json: str = "",
        released: Mapping[str, int] | None = None,
        suppressed: int = 0,
        error: str = "",
        coordinator_head: SignedHead | None = None,
    ) -> tuple[bool, bool]:
        """Settle the query (charge and log a release, or log a failure), then forget it.

        The coordinator's signed audit-log head, when given, is kept in the settle record.
        Returns (forgotten, committed).
        """
        try:
            session = self.sessions.get(query_id)
        except SessionNotFound:
            return False, False
        committed = False
        if session.admission is not None:
            committed = self.governance.settle(
                session.admission,
                "released" if outcome == "released" else "failed",
                answer_json,
                released,
                suppressed,
                error or ("closed without a release" if outcome != "released" else None),
                witnessed=(Witness(coordinator_head),) if coordinator_head else (),
            )
        return self.sessions.close(query_id), committed

    def settle_witness(self, query_id: str) -> Witness | None:
        """This node's audit-log head, signed now that `query_id` settled, and the epsilon its
        log charged for it: what the coordinator keeps as a witness of this node's log."""
        return settle_witness(self.governance.audit, query_id)

    def close_all(self, reason: str = "the node shut down before the query finished") -> None:
        """Shutdown: settle every open query as failed with `reason` (logged; refunded only
        where nothing had left this node), forget it, then drop whatever opened meanwhile."""
        for query_id in self.sessions.query_ids():
            self.close(query_id, "failed", error=reason)
        self.sessions.close_all()

    def _expired(self, session: QuerySession) -> None:
        if session.admission is not None:
            self.governance.settle(session.admission, "failed", error="session expired idle")
        self.settle_witness(session.query_id)  # sign the failure: no settle will come to do it


@dataclass(frozen=True)
class Reblinded:
    """Re-blinded points, and the owner's signature binding them to the unblinding step."""

    points: Iterator[bytes]
    signature: bytes = b""


@dataclass(frozen=True)
class _Loaded:
    """A load for one session, and whether it is the cached one (its points may be kept)."""

    elements: object
    columns: dict[str, list[object]]
    report: LoadTally
    entry: CachedMembers
    cacheable: bool


class _Counted:
    """Passes chunks through, counting the 32-byte points; `limit` sees each running count
    before its chunk goes on (and raises to stop a set that is too large)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.points = 0
        self.limit: Callable[[int], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.points += len(chunk) // 32
            if self.limit is not None:
                self.limit(self.points)
            yield chunk


def _accept_group(
    party: str, served: tuple[str, ...], requested: str, signed: SignedQuery | None
) -> str:
    """The PSI group of a session: the one asked for (ristretto255 when none is named), if
    this node serves it and the querier's signature allows it; QueryRefused otherwise."""
    name = requested or LEGACY_GROUP
    if name not in served:
        raise QueryRefused(
            f"party {party!r} does not serve PSI group {name!r} (it serves "
            f"{', '.join(served)}); add it to psi_groups in its node config, or allow "
            f"one it serves in the query"
        )
    allowed = signed_groups(signed.payload) if signed is not None and signed.payload else None
    if allowed is not None and name not in allowed:
        raise QueryRefused(
            f"PSI group {name!r} is not one the querier signed ({', '.join(allowed)})"
        )
    return name
