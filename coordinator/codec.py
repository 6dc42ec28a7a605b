"""Proto <-> domain mapping for the coordinator service and its clients."""

from __future__ import annotations

from coordinator.results import OverlapResult, PartyLoad
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
