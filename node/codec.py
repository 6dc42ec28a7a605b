"""Proto <-> domain mapping for the node service (the only place that knows both)."""

from __future__ import annotations

from connectors.members import LoadReport
from gongying.v1 import node_pb2
from node.service import NodeDescription, SessionOpened

KIND_NAMES = {
    node_pb2.QUERY_KIND_OVERLAP: "overlap",
    node_pb2.QUERY_KIND_PROFILE: "profile",
}
KIND_VALUES = {name: value for value, name in KIND_NAMES.items()}
ROLE_NAMES = {
    node_pb2.SESSION_ROLE_MEMBER: "member",
    node_pb2.SESSION_ROLE_QUERIER: "querier",
    node_pb2.SESSION_ROLE_OWNER: "owner",
}
ROLE_VALUES = {name: value for value, name in ROLE_NAMES.items()}


def description_to_proto(description: NodeDescription) -> node_pb2.DescribeResponse:
    return node_pb2.DescribeResponse(
        party=description.party,
        id_types=list(description.id_types),
        profile_version=description.profile_version,
    )


def load_report_to_proto(report: LoadReport) -> node_pb2.LoadReport:
    return node_pb2.LoadReport(
        source=report.source,
        rows_read=report.rows_read,
        accepted=report.accepted,
        duplicates=report.duplicates,
        invalid=dict(report.invalid),
    )


def load_report_from_proto(message: node_pb2.LoadReport) -> LoadReport:
    return LoadReport(
        source=message.source,
        rows_read=message.rows_read,
        accepted=message.accepted,
        duplicates=message.duplicates,
        invalid=dict(message.invalid),
    )


def session_opened_to_proto(opened: SessionOpened) -> node_pb2.OpenSessionResponse:
    return node_pb2.OpenSessionResponse(
        party=opened.party,
        set_size=opened.set_size,
        load_report=load_report_to_proto(opened.report),
    )
