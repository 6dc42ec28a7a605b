"""Open a member source from its spec; the readers live one per module."""

from __future__ import annotations

from connectors.csv_source import CsvSource
from connectors.errors import SourceSpecError
from connectors.frame_source import FrameSource
from connectors.parquet_source import ParquetSource
from connectors.source_spec import MemberSource, SourceSpec
from connectors.sql_source import SqlSource

__all__ = ["CsvSource", "FrameSource", "MemberSource", "ParquetSource", "SqlSource", "open_source"]


def open_source(spec: SourceSpec) -> MemberSource:
    """The reader for `spec`; opening is lazy, errors surface on `columns` / `iter_chunks`."""
    if spec.kind == "csv":
        return CsvSource(spec)
    if spec.kind == "parquet":
        return ParquetSource(spec)
    if spec.kind == "sql":
        return SqlSource(spec)
    raise SourceSpecError(
        f"{spec.describe()}: a dataframe source is built with FrameSource(frame), not from a spec"
    )
