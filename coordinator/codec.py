"""Proto <-> domain mapping for the coordinator service and its clients."""

from __future__ import annotations

import math

from coordinator.results import (
    NumericStats,
    OverlapResult,
    OwnerProfile,
    PartyLoad,
    ProfileResult,
)
from gongying.v1 import coordinator_pb2, node_pb2


def overlap_to_proto(result: OverlapResult) -> coordinator_pb2.OverlapResponse:
    return coordinator_pb2.OverlapResponse(
        query_id=result.query_id,
        parties=list(result.parties),
        id_type=result.id_type,
        set_sizes=result.set_sizes,
        regions=[
            coordinator_pb2.Region(parties=list(members), count=count)
            for members, count in result.regions
        ],
        pairwise=[coordinator_pb2.PairOverlap(a=a, b=b, count=n) for a, b, n in result.pairwise],
        all_parties=result.all_parties,
        load_reports=[
            node_pb2.LoadReport(
                party=load.party,
                source=load.source,
                rows_read=load.rows_read,
                accepted=load.accepted,
                duplicates=load.duplicates,
                invalid=load.invalid,
            )
            for load in result.loads
        ],
        seconds=result.seconds,
    )


def overlap_from_proto(message: coordinator_pb2.OverlapResponse) -> OverlapResult:
    loads = []
    for report in message.load_reports:
        loads.append(
            PartyLoad(
                party=report.party,
                source=report.source,
                rows_read=report.rows_read,
                accepted=report.accepted,
                duplicates=report.duplicates,
                invalid=dict(report.invalid),
            )
        )
    return OverlapResult(
        query_id=message.query_id,
        parties=tuple(message.parties),
        id_type=message.id_type,
        set_sizes={p: message.set_sizes[p] for p in message.parties},
        regions=tuple((tuple(r.parties), r.count) for r in message.regions),
        pairwise=tuple((p.a, p.b, p.count) for p in message.pairwise),
        all_parties=message.all_parties,
        loads=tuple(loads),
        seconds=message.seconds,
    )


def profile_to_proto(result: ProfileResult) -> coordinator_pb2.ProfileResponse:
    profiles = []
    for p in result.profiles:
        attributes = [
            coordinator_pb2.AttributeResult(
                attribute=name,
                categorical=coordinator_pb2.CategoricalResult(
                    bins=[coordinator_pb2.BinCount(bin=b, count=n) for b, n in bins.items()]
                ),
            )
            for name, bins in p.categorical.items()
        ] + [
            coordinator_pb2.AttributeResult(
                attribute=name,
                numeric=coordinator_pb2.NumericResult(
                    count=s.count,
                    sum=s.sum,
                    mean=s.mean if s.mean is not None else float("nan"),
                    std=s.std if s.std is not None else float("nan"),
                ),
            )
            for name, s in p.numeric.items()
        ]
        profiles.append(
            coordinator_pb2.OwnerProfile(owner=p.owner, overlap=p.overlap, attributes=attributes)
        )
    return coordinator_pb2.ProfileResponse(
        query_id=result.query_id,
        querier=result.querier,
        profiles=profiles,
        not_combined=result.not_combined,
        seconds=result.seconds,
        phase_seconds=result.phases,
    )


def profile_from_proto(
    message: coordinator_pb2.ProfileResponse, owners: tuple[str, ...], attributes: tuple[str, ...]
) -> ProfileResult:
    profiles = []
    for p in message.profiles:
        categorical: dict[str, dict[str, int]] = {}
        numeric: dict[str, NumericStats] = {}
        for item in p.attributes:
            if item.WhichOneof("result") == "categorical":
                categorical[item.attribute] = {b.bin: b.count for b in item.categorical.bins}
            else:
                n = item.numeric
                numeric[item.attribute] = NumericStats(
                    n.count,
                    n.sum,
                    None if math.isnan(n.mean) else n.mean,
                    None if math.isnan(n.std) else n.std,
                )
        profiles.append(OwnerProfile(p.owner, p.overlap, categorical, numeric))
    return ProfileResult(
        query_id=message.query_id,
        querier=message.querier,
        owners=owners,
        attributes=attributes,
        profiles=tuple(profiles),
        not_combined=dict(message.not_combined),
        seconds=message.seconds,
        phases=dict(sorted(message.phase_seconds.items(), key=lambda item: item[1])),
    )
