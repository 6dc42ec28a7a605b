"""The coordinator's logic: validate a query and run its protocol inside a `QueryRun` (settle, log).

Nothing is returned to the querier until every node has charged and logged the release and the
coordinator's own audit record is durable; a failed query releases nothing, every node is told
(and refunds any reserved budget), and the failure is logged too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace

from connectors.identifiers import IdType
from coordinator.cached import answer_to_release
from coordinator.callers import check_caller, requester_label
from coordinator.config import CoordinatorConfig
from coordinator.group_choice import choose_group
from coordinator.mask_pool import MaskSupply
from coordinator.node_client import Deadline, NodeClient
from coordinator.overlap_run import run_overlap
from coordinator.profile_labels import with_owner_labels
from coordinator.profile_run import run_profile
from coordinator.progress import REGISTRY, ProgressRegistry
from coordinator.query_run import QueryRun
from coordinator.witnesses import WitnessBook
from model.errors import CoordinatorMisconfigured, QueryRefused
from model.outcomes import ProfileOutcome
from model.progress import AGGREGATION, OPEN, OVERLAP_STEPS, PROFILE_STEPS
from model.results import OverlapResult, ProfileResult
from protocols.matching import MAX_PARTIES
from release.overlap import overlap_cells, overlap_result, profile_cells
from runtime.audit import AuditLog
from runtime.signing import AUDIENCES, SHARED, SignedQueryError, signed_audience
from wire.v1 import query_pb2


class CoordinatorService:
    """Routes queries to the configured partner nodes."""

    def __init__(
        self,
        config: CoordinatorConfig,
        masks: MaskSupply | None = None,
        audit: AuditLog | None = None,
        progress: ProgressRegistry = REGISTRY,
    ) -> None:
        self.config = config
        self.masks = masks
        self.audit = audit
        self.witnesses = WitnessBook(audit)
        self.progress = progress
        self.nodes = {
            party: NodeClient(party, address, config.tls)
            for party, address in config.parties.items()
        }

    def parties(self) -> dict[str, str]:
        """Known party names and their node addresses."""
        return dict(self.config.parties)

    def _select(self, parties: Sequence[str]) -> dict[str, NodeClient]:
        unknown = [p for p in parties if p not in self.nodes]
        if unknown:
            known = ", ".join(sorted(self.nodes))
            raise QueryRefused(
                f"unknown party {', '.join(repr(p) for p in unknown)}; known parties: {known}",
            )
        if len(set(parties)) != len(parties):
            raise QueryRefused("a party is named twice")
        if not 2 <= len(parties) <= MAX_PARTIES:
            raise QueryRefused(
                f"an overlap needs 2 to {MAX_PARTIES} parties, got {len(parties)}",
            )
        return {p: self.nodes[p] for p in parties}

    def _deadline(
        self,
        timeout: float | None,
        on_cancel: Callable[[Callable[[], None]], object] | None = None,
    ) -> Deadline:
        """The query's deadline; `on_cancel` registers what cancels it (the querier's call
        ending early), so that a cancelled query stops at every party."""
        deadline = Deadline(
            min(timeout or self.config.deadline_seconds, self.config.deadline_seconds)
        )
        if on_cancel is not None:
            on_cancel(deadline.cancel)
        return deadline

    def overlap(
        self,
        parties: Sequence[str],
        id_type: str,
        query_id: str = "",
        timeout: float | None = None,
        signed: query_pb2.SignedQuery | None = None,
        requester: str = "",
        on_cancel: Callable[[Callable[[], None]], object] | None = None,
        psi_groups: Sequence[str] = (),
    ) -> OverlapResult:
        """Run an overlap query and return every region count, as the release rules allow."""
        query_id = query_id or str(uuid.uuid4())
        signer = signed.signer if signed is not None else ""
        asker = requester_label(requester, signer)
        with self._run(query_id, "overlap", asker, parties) as run:
            run.begin(OVERLAP_STEPS, {OPEN: len(parties)})
            check_caller(self.config, requester, signer)
            _check_id_type(id_type)
            run.nodes = nodes = self._select(parties)
            deadline = self._deadline(timeout, on_cancel)
            outcome = run_overlap(
                nodes,
                query_id,
                id_type,
                self.config.normalisation_profile,
                deadline,
                signed,
                choose_group(nodes, psi_groups, signed, deadline),
            )
            result, answer = answer_to_release(
                outcome.cached,
                lambda cached: OverlapResult.from_json(cached).renamed(
                    query_id, time.monotonic() - run.started, from_cache=True
                ),
                lambda: overlap_result(outcome, time.monotonic() - run.started, signer, requester),
            )
            release = result.release
            run.release(
                deadline, answer, overlap_cells(result), release.suppressed, release.epsilon
            )
        return result

    def profile(
        self,
        querier: str,
        owners: Sequence[str],
        attributes: Sequence[str],
        id_type: str = "email",
        query_id: str = "",
        timeout: float | None = None,
        signed: query_pb2.SignedQuery | None = None,
        requester: str = "",
        on_cancel: Callable[[Callable[[], None]], object] | None = None,
        audience: str = SHARED,
        psi_groups: Sequence[str] = (),
    ) -> ProfileResult:
        """Profile an audience of each owner, per owner and combined: the members the querier
        shares with it (`shared`), those the querier lacks (`prospects`) or its whole base
        (`base`); a signed query must name the same audience."""
        query_id = query_id or str(uuid.uuid4())
        signer = signed.signer if signed is not None else ""
        asker = requester_label(requester, signer or querier)
        with self._run(query_id, "profile", asker, (querier, *owners), attributes) as run:
            run.begin(PROFILE_STEPS, {OPEN: 1 + len(owners), AGGREGATION: len(owners)})
            check_caller(self.config, requester, signer, querier)
            masks = _check_profile(self.masks, querier, owners, attributes, id_type)
            _check_audience(audience, signed)
            run.nodes = nodes = self._select([querier, *owners])
            deadline = self._deadline(timeout, on_cancel)
            outcome = run_profile(
                nodes[querier],
                {o: nodes[o] for o in owners},
                query_id,
                id_type,
                list(attributes),
                self.config.normalisation_profile,
                deadline,
                masks,
                signed,
                audience,
                choose_group(nodes, psi_groups, signed, deadline),
            )
            result, answer = answer_to_release(
                outcome.cached,
                lambda cached: replace(
                    ProfileResult.from_json(cached), query_id=query_id, from_cache=True
                ),
                lambda: _profile_result(outcome, owners, attributes, audience),
            )
            suppressed = sum(p.release.suppressed for p in result.profiles)
            run.release(deadline, answer, profile_cells(result.profiles), suppressed, 0.0)
        return result

    def _run(
        self,
        query_id: str,
        kind: str,
        requester: str,
        parties: Sequence[str],
        attributes: Sequence[str] = (),
    ) -> QueryRun:
        """A query's run: its progress, settlement at every node and the audit record."""
        return QueryRun(
            self.audit,
            self.witnesses,
            self.progress,
            query_id,
            kind,
            requester,
            parties,
            attributes,
        )

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()
        if self.masks is not None:
            self.masks.shutdown()
        if self.audit is not None:
            self.audit.close()


def _profile_result(
    outcome: ProfileOutcome, owners: Sequence[str], attributes: Sequence[str], audience: str
) -> ProfileResult:
    """A fresh profile answer: the profiles the querier's node released, with owners' labels."""
    labels = {owner: session.labels for owner, session in outcome.sessions.items()}
    return ProfileResult(
        query_id=outcome.query_id,
        querier=outcome.querier,
        owners=tuple(owners),
        attributes=tuple(attributes),
        profiles=tuple(with_owner_labels(outcome.profiles, labels)),
        not_combined=outcome.not_combined,
        seconds=outcome.seconds,
        phases=outcome.phases,
        audience=audience,
    )


def _check_id_type(id_type: str) -> None:
    if id_type not in {t.value for t in IdType}:
        known = ", ".join(t.value for t in IdType)
        raise QueryRefused(f"unknown id type {id_type!r}; known: {known}")


def _check_audience(audience: str, signed: query_pb2.SignedQuery | None) -> None:
    """The audience must be known and, in a signed query, the one the querier signed."""
    if audience not in AUDIENCES:
        raise QueryRefused(
            f"audience {audience!r} is not one of {', '.join(AUDIENCES)}",
        )
    if signed is None:
        return
    try:
        signed_as = signed_audience(signed.payload)
    except SignedQueryError as error:
        raise QueryRefused(str(error)) from None
    if signed_as != audience:
        raise QueryRefused(
            f"the request asks for audience {audience} but the querier signed {signed_as}",
        )


def _check_profile(
    masks: MaskSupply | None,
    querier: str,
    owners: Sequence[str],
    attributes: Sequence[str],
    id_type: str,
) -> MaskSupply:
    if masks is None:
        raise CoordinatorMisconfigured("this coordinator runs no mask workers")
    _check_id_type(id_type)
    if querier in owners:
        raise QueryRefused(f"the querier {querier!r} cannot also be an owner")
    if not owners:
        raise QueryRefused("name at least one owner")
    if not attributes:
        raise QueryRefused("name at least one attribute")
    return masks
