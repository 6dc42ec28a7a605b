"""A querier's profile over part of its own list: the members whose column holds one value.

A campaign's exposed and holdout groups are columns of the brand's own list. The brand signs
the segment (column, value) into the query; its own node, in the querier role, keeps only the
members whose column holds that value, and the rest of the protocol runs unchanged on that
smaller set. So each group is a separate querier set to the owners: each is counted against
`min_counterparty_set` on the points received, each is fingerprinted on its own for the cached
answer (a repeat of one group returns that group's answer, never the other's), and each query
is charged its own epsilon. The owners see the segment's column and value names in the signed
payload, never which member is in which group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from connectors.errors import ConnectorError
from runtime.signing import Segment, SignedQuery, SignedQueryError, signed_segment


class SegmentEmpty(ConnectorError):
    """No member of the querier's list holds the segment's value."""


class SegmentColumnMissing(ConnectorError):
    """The querier's list has no column of the segment's name."""


def check_segment_column(columns: Sequence[str], segment: Segment, party: str) -> None:
    """The segment's column must be one of the querier's list's columns (named by the querier
    itself in its signed query, so naming it reveals nothing of the owner)."""
    if segment.column not in columns:
        raise SegmentColumnMissing(
            f"{party}'s list has no column {segment.column!r} to select the group "
            f"{segment.value!r} by (name the column of the campaign groups)"
        )


def unverified_segment(signed: SignedQuery | None) -> Segment | None:
    """The segment of a query a node without a policy admits (it verifies no signature)."""
    if signed is None:
        return None
    try:
        return signed_segment(signed.payload)
    except SignedQueryError:
        return None


def segment_rows(values: Sequence[object], segment: Segment, party: str) -> np.ndarray:
    """Positions of the members whose `segment.column` value is `segment.value` (trimmed);
    SegmentEmpty, naming the values present, when there are none."""
    wanted = segment.value.strip()
    keep = [i for i, v in enumerate(values) if v is not None and str(v).strip() == wanted]
    if not keep:
        present = sorted({str(v).strip() for v in values if v is not None})
        shown = ", ".join(repr(v) for v in present[:10]) or "none"
        raise SegmentEmpty(
            f"no member of {party}'s list has {segment.column} = {segment.value!r} "
            f"(values present: {shown})"
        )
    return np.asarray(keep, dtype=np.int64)
