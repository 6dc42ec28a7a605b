"""The node's service: admit and open query sessions, hand each step to its collaborator, settle."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from connectors.identifiers import SERVES, IdType
from model.errors import QueryRefused, SessionNotFound
from model.node import NodeDescription, SessionOpened
from model.results import OwnerProfile
from node.admission import Admission
from node.config import NodeConfig
from node.decryption import QuerierDecryption
from node.display_labels import labels_for
from node.governance import NodeGovernance
from node.member_cache import MemberCache
from node.member_loader import MemberLoader
from node.profile_release import ProfileRelease, ReleaseRequest
from node.profile_steps import ProfileSteps
from node.querier_key import KeyBindingSigner
from node.sessions import QuerySession, SessionRequest, SessionStore
from node.set_blinding import Reblinded, ReblindRequest, SetBlinding
from node.unblinding import Unblinding
from protocols import psi
from protocols.group_names import LEGACY_GROUP
from protocols.paillier import PaillierPrivateKey
from protocols.plausibility import OwnerTerms
from protocols.profile import OwnerAggregate
from runtime.audit import SignedHead, Witness, settle_witness
from runtime.executor import CryptoExecutor
from runtime.signing import SignedQuery, load_signing_key, signed_groups

QUERY_KINDS = ("overlap", "profile")


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
        self.members = MemberLoader(config, self.governance, self.member_cache)
        signing_key = load_signing_key(config.signing_key) if config.signing_key else None
        self.unblinding = Unblinding(config.party, self.governance, signing_key, self.sessions)
        self.key_signer = KeyBindingSigner(signing_key)
        self.decryption = (
            QuerierDecryption(querier_key, self.governance, self.sessions) if querier_key else None
        )
        self.profile_release = ProfileRelease(config.party, self.governance, self.sessions)
        self.profile = ProfileSteps(
            config,
            executor,
            self.governance,
            self.sessions,
            self.decryption,
            self.profile_release,
            signing_key,
        )
        self.blinding = SetBlinding(executor, self.governance, self.sessions, self.unblinding)

    def describe(self) -> NodeDescription:
        """Party name, servable identifier types and the normalisation profile label."""
        id_types = sorted({t.value for c in self.config.identifiers for t in SERVES[c.kind]})
        return NodeDescription(
            self.config.party,
            tuple(id_types),
            self.config.normalisation.label(),
            self.config.psi_groups,
        )

    def open_session(self, request: SessionRequest) -> SessionOpened:
        """Admit the query (signature, policy, caps, budget), load members, draw a fresh key.

        Refusals are audited by the governance; any later failure settles the admission as
        failed (logged; the query stays counted, its epsilon is refunded since nothing left
        this node yet) before the error is reported. `request.querier_set` is the querier
        node's fingerprint of its set, part of the key under which an identical repeat is cached.
        """
        admission = self.governance.admit(
            request.query_id,
            request.kind,
            request.id_type,
            request.parties,
            request.attributes,
            request.signed,
            request.requester,
            request.querier_set,
        )
        try:
            return self._open(admission, request)
        except Exception as error:
            self.governance.settle(admission, "failed", error=str(error) or type(error).__name__)
            raise

    def _open(self, admission: Admission, request: SessionRequest) -> SessionOpened:
        query_id, kind, role = request.query_id, request.kind, request.role
        parties, profile_version = request.parties, request.profile_version
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
            wanted = IdType(request.id_type)
        except ValueError:
            known = ", ".join(t.value for t in IdType)
            raise QueryRefused(f"unknown id type {request.id_type!r}; known: {known}") from None
        group_name = _accept_group(
            self.config.party, self.config.psi_groups, request.psi_group, request.signed
        )
        specs = self.profile.owner_specs(role, request.attributes)
        public_key = self.profile.owner_key(
            admission, role, query_id, request.paillier_n, request.paillier_key_signature
        )
        if role == "querier" and self.querier_key is None:
            raise QueryRefused(
                f"party {self.config.party!r} holds no Paillier key pair; set [paillier] key_file"
            )
        if role == "querier" and admission.segment is not None:
            loaded = self.members.load_segment(wanted, admission.segment)
        else:
            loaded = self.members.load(wanted, specs)
        table, columns = loaded, loaded.columns
        party = psi.PsiParty.fresh(len(loaded.elements), group_name)  # type: ignore[arg-type]
        order = party.order
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
            cached=loaded.entry if loaded.cacheable else None,
            psi=party,
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
            set_fingerprint=self.members.set_fingerprint(admission, loaded),
            labels=labels_for(self.config.labels, specs),
        )

    def aggregate(
        self, query_id: str, fingerprint: bytes, chunks: Iterator[bytes]
    ) -> OwnerAggregate:
        """As owner: its attributes aggregated against encrypted indicators (profile_steps)."""
        return self.profile.aggregate(query_id, fingerprint, chunks)

    def owner_terms(self, query_id: str, aggregate: OwnerAggregate) -> tuple[OwnerTerms, bytes]:
        """As owner: this query's terms, signed with `aggregate` (node/owner_terms.py)."""
        return self.profile.owner_terms(query_id, aggregate)

    def release_profile(self, request: ReleaseRequest) -> list[OwnerProfile]:
        """As querier: decrypt every owner's signed aggregate and return only what the release
        rules release under the owners' signed terms (node/profile_release.py)."""
        return self.profile.release_profile(request)

    def own_set(self, query_id: str) -> Iterator[bytes]:
        """The session's elements, hashed and blinded with its key (node/set_blinding.py)."""
        return self.blinding.own_set(query_id)

    def reblind(self, request: ReblindRequest, chunks: Iterator[bytes]) -> Reblinded:
        """Multiply every received point by the session key, or take it off (set_blinding)."""
        return self.blinding.reblind(request, chunks)

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
