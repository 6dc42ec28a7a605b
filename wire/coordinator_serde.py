"""Proto <-> domain mapping for the coordinator service and its clients."""

from __future__ import annotations

import math

from model.progress import QueryProgress, StepProgress, released_step
from model.results import (
    Count,
    ErrorBar,
    NumericStats,
    OverlapResult,
    OwnerProfile,
    PartyLoad,
    ProfileResult,
    ReleaseInfo,
)
from wire import node_serde as node_codec
from wire.v1 import coordinator_pb2, node_pb2


def _release_to_proto(release: ReleaseInfo) -> coordinator_pb2.ReleaseTerms:
    return coordinator_pb2.ReleaseTerms(
        k=release.k,
        epsilon=release.epsilon,
        from_cache=release.from_cache,
        suppressed=release.suppressed,
        error_bars=[
            coordinator_pb2.ErrorBar(
                table=bar.table,
                mechanism=bar.mechanism,
                epsilon=bar.epsilon,
                sensitivity=bar.sensitivity,
                scale=bar.scale,
                noised_cells=bar.noised_cells,
                half_width=bar.half_width,
            )
            for bar in release.error_bars
        ],
        protective=list(release.protective),
    )


def _release_from_proto(message: coordinator_pb2.ReleaseTerms) -> ReleaseInfo:
    return ReleaseInfo(
        message.k,
        message.epsilon,
        message.from_cache,
        message.suppressed,
        tuple(
            ErrorBar(
                bar.table,
                bar.mechanism,
                bar.epsilon,
                bar.sensitivity,
                bar.scale,
                bar.noised_cells,
                bar.half_width,
            )
            for bar in message.error_bars
        ),
        tuple(message.protective),
    )


def _count(value: int, suppressed: bool) -> Count:
    return None if suppressed else int(value)


def overlap_to_proto(result: OverlapResult) -> coordinator_pb2.OverlapResponse:
    return coordinator_pb2.OverlapResponse(
        query_id=result.query_id,
        parties=list(result.parties),
        id_type=result.id_type,
        set_sizes={p: n or 0 for p, n in result.set_sizes.items()},
        suppressed_sizes=[p for p, n in result.set_sizes.items() if n is None],
        regions=[
            coordinator_pb2.Region(
                parties=list(members), count=count or 0, suppressed=count is None
            )
            for members, count in result.regions
        ],
        pairwise=[
            coordinator_pb2.PairOverlap(a=a, b=b, count=n or 0, suppressed=n is None)
            for a, b, n in result.pairwise
        ],
        all_parties=result.all_parties or 0,
        all_parties_suppressed=result.all_parties is None,
        union=result.union or 0,
        union_suppressed=result.union is None,
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
        release=_release_to_proto(result.release),
    )


def overlap_from_proto(message: coordinator_pb2.OverlapResponse) -> OverlapResult:
    loads = [
        PartyLoad(
            party=report.party,
            source=report.source,
            rows_read=report.rows_read,
            accepted=report.accepted,
            duplicates=report.duplicates,
            invalid=dict(report.invalid),
        )
        for report in message.load_reports
    ]
    hidden = set(message.suppressed_sizes)
    return OverlapResult(
        query_id=message.query_id,
        parties=tuple(message.parties),
        id_type=message.id_type,
        set_sizes={p: _count(message.set_sizes[p], p in hidden) for p in message.parties},
        regions=tuple((tuple(r.parties), _count(r.count, r.suppressed)) for r in message.regions),
        pairwise=tuple((p.a, p.b, _count(p.count, p.suppressed)) for p in message.pairwise),
        all_parties=_count(message.all_parties, message.all_parties_suppressed),
        union=_count(message.union, message.union_suppressed),
        loads=tuple(loads),
        seconds=message.seconds,
        release=_release_from_proto(message.release),
    )


def profile_to_proto(result: ProfileResult) -> coordinator_pb2.ProfileResponse:
    profiles = []
    for p in result.profiles:
        attributes = [
            coordinator_pb2.AttributeResult(
                attribute=name,
                categorical=coordinator_pb2.CategoricalResult(
                    bins=[
                        coordinator_pb2.BinCount(bin=b, count=n or 0, suppressed=n is None)
                        for b, n in bins.items()
                    ]
                ),
            )
            for name, bins in p.categorical.items()
        ]
        attributes += [
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
        attributes += [
            coordinator_pb2.AttributeResult(
                attribute=name, numeric=coordinator_pb2.NumericResult(suppressed=True)
            )
            for name in p.suppressed_numeric
        ]
        profiles.append(
            coordinator_pb2.OwnerProfile(
                owner=p.owner,
                overlap=p.overlap or 0,
                overlap_suppressed=p.overlap is None,
                attributes=attributes,
                release=_release_to_proto(p.release),
                labels=node_codec.labels_to_proto(p.labels),
            )
        )
    return coordinator_pb2.ProfileResponse(
        query_id=result.query_id,
        querier=result.querier,
        profiles=profiles,
        not_combined=result.not_combined,
        seconds=result.seconds,
        phase_seconds=result.phases,
        from_cache=result.from_cache,
    )


def profile_from_proto(
    message: coordinator_pb2.ProfileResponse, owners: tuple[str, ...], attributes: tuple[str, ...]
) -> ProfileResult:
    profiles = []
    for p in message.profiles:
        categorical: dict[str, dict[str, Count]] = {}
        numeric: dict[str, NumericStats] = {}
        dropped: list[str] = []
        for item in p.attributes:
            if item.WhichOneof("result") == "categorical":
                categorical[item.attribute] = {
                    b.bin: _count(b.count, b.suppressed) for b in item.categorical.bins
                }
            elif item.numeric.suppressed:
                dropped.append(item.attribute)
            else:
                n = item.numeric
                numeric[item.attribute] = NumericStats(
                    n.count,
                    n.sum,
                    None if math.isnan(n.mean) else n.mean,
                    None if math.isnan(n.std) else n.std,
                )
        profiles.append(
            OwnerProfile(
                p.owner,
                _count(p.overlap, p.overlap_suppressed),
                categorical,
                numeric,
                tuple(dropped),
                _release_from_proto(p.release),
                node_codec.labels_from_proto(p.labels),
            )
        )
    return ProfileResult(
        query_id=message.query_id,
        querier=message.querier,
        owners=owners,
        attributes=attributes,
        profiles=tuple(profiles),
        not_combined=dict(message.not_combined),
        seconds=message.seconds,
        phases=dict(sorted(message.phase_seconds.items(), key=lambda item: item[1])),
        from_cache=message.from_cache,
    )


def progress_to_proto(progress: QueryProgress) -> coordinator_pb2.QueryProgress:
    """The progress a watcher receives (set sizes never leave as counts)."""
    steps = [released_step(s) for s in progress.steps]
    return coordinator_pb2.QueryProgress(
        query_id=progress.query_id,
        steps=[
            coordinator_pb2.StepProgress(name=s.name, done=s.done, total=s.total) for s in steps
        ],
        finished=progress.finished,
        failed=progress.failed,
    )


def progress_from_proto(message: coordinator_pb2.QueryProgress) -> QueryProgress:
    return QueryProgress(
        message.query_id,
        tuple(StepProgress(s.name, int(s.done), int(s.total)) for s in message.steps),
        message.finished,
        message.failed,
    )
