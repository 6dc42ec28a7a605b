"""The coordinator's logic: validate a query against known parties and run it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import grpc

from connectors.identifiers import IdType
from coordinator.config import CoordinatorConfig
from coordinator.masks import MaskSupply
from coordinator.node_client import Deadline, NodeClient
from coordinator.overlap import run_overlap
from coordinator.profile import DecryptedProfile, run_profile
from coordinator.results import (
    NumericStats,
    OverlapResult,
    OwnerProfile,
    PartyLoad,
    ProfileResult,
)
from gongying.status import QueryFailed
from protocols.matching import MAX_PARTIES
from protocols.profile import CategoricalAttribute, decode_numeric


class CoordinatorService:
    """Routes queries to the configured partner nodes."""

    def __init__(self, config: CoordinatorConfig, masks: MaskSupply | None = None) -> None:
        self.config = config
        self.masks = masks
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
            raise QueryFailed(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"unknown party {', '.join(repr(p) for p in unknown)}; known parties: {known}",
            )
        if len(set(parties)) != len(parties):
            raise QueryFailed(grpc.StatusCode.INVALID_ARGUMENT, "a party is named twice")
        if not 2 <= len(parties) <= MAX_PARTIES:
            raise QueryFailed(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"an overlap needs 2 to {MAX_PARTIES} parties, got {len(parties)}",
            )
        return {p: self.nodes[p] for p in parties}

    def overlap(
        self, parties: Sequence[str], id_type: str, query_id: str = "", timeout: float | None = None
    ) -> OverlapResult:
        """Run an overlap query and return every region count."""
        if id_type not in {t.value for t in IdType}:
            known = ", ".join(t.value for t in IdType)
            raise QueryFailed(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown id type {id_type!r}; known: {known}"
            )
        nodes = self._select(parties)
        seconds = min(timeout or self.config.deadline_seconds, self.config.deadline_seconds)
        outcome = run_overlap(
            nodes,
            query_id or str(uuid.uuid4()),
            id_type,
            self.config.normalisation_profile,
            Deadline(seconds),
        )
        counts = outcome.counts
        order = counts.parties
        regions = sorted(
            counts.regions.items(),
            key=lambda item: (
                len(item[0]),
                [order.index(p) for p in sorted(item[0], key=order.index)],
            ),
        )
        return OverlapResult(
            query_id=outcome.query_id,
            parties=order,
            id_type=id_type,
            set_sizes=dict(counts.sizes),
            regions=tuple(
                (tuple(sorted(members, key=order.index)), count) for members, count in regions
            ),
            pairwise=tuple((a, b, n) for (a, b), n in counts.pairwise().items()),
            all_parties=counts.intersection(),
            loads=tuple(
                PartyLoad(
                    party=s.party,
                    source=s.report.source,
                    rows_read=s.report.rows_read,
                    accepted=s.report.accepted,
                    duplicates=s.report.duplicates,
                    invalid=dict(s.report.invalid),
                )
                for s in outcome.sessions.values()
            ),
            seconds=outcome.seconds,
        )

    def profile(
        self,
        querier: str,
        owners: Sequence[str],
        attributes: Sequence[str],
        id_type: str = "email",
        query_id: str = "",
        timeout: float | None = None,
    ) -> ProfileResult:
        """Profile the audience the querier shares with each owner, per owner and combined."""
        if self.masks is None:
            raise QueryFailed(
                grpc.StatusCode.FAILED_PRECONDITION, "this coordinator runs no mask workers"
            )
        if id_type not in {t.value for t in IdType}:
            raise QueryFailed(grpc.StatusCode.INVALID_ARGUMENT, f"unknown id type {id_type!r}")
        if querier in owners:
            raise QueryFailed(
                grpc.StatusCode.INVALID_ARGUMENT, f"the querier {querier!r} cannot also be an owner"
            )
        if not owners:
            raise QueryFailed(grpc.StatusCode.INVALID_ARGUMENT, "name at least one owner")
        if not attributes:
            raise QueryFailed(grpc.StatusCode.INVALID_ARGUMENT, "name at least one attribute")
        nodes = self._select([querier, *owners])
        seconds = min(timeout or self.config.deadline_seconds, self.config.deadline_seconds)
        outcome = run_profile(
            nodes[querier],
            {o: nodes[o] for o in owners},
            query_id or str(uuid.uuid4()),
            id_type,
            list(attributes),
            self.config.normalisation_profile,
            Deadline(seconds),
            self.masks,
        )
        return ProfileResult(
            query_id=outcome.query_id,
            querier=querier,
            owners=tuple(owners),
            attributes=tuple(attributes),
            profiles=tuple(decode_profile(p) for p in outcome.profiles),
            not_combined=outcome.not_combined,
            seconds=outcome.seconds,
            phases=outcome.phases,
        )

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()
        if self.masks is not None:
            self.masks.shutdown()


def decode_profile(decrypted: DecryptedProfile) -> OwnerProfile:
    """Plaintext cells to bin counts and numeric statistics in the attributes' own units."""
    categorical: dict[str, dict[str, int]] = {}
    numeric: dict[str, NumericStats] = {}
    for spec in decrypted.specs:
        if isinstance(spec, CategoricalAttribute):
            categorical[spec.name] = {b: decrypted.cells[(spec.name, b)] for b in spec.bins}
        else:
            summary = decode_numeric(
                spec,
                decrypted.cells[(spec.name, "count")],
                decrypted.cells[(spec.name, "sum")],
                decrypted.cells[(spec.name, "sum_sq")],
            )
            numeric[spec.name] = NumericStats(
                summary.count, float(summary.sum), summary.mean, summary.std
            )
    return OwnerProfile(decrypted.owner, decrypted.cells[("", "overlap")], categorical, numeric)
