"""Where a party's member data lives, and the one interface every reader implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import pandas as pd
import sqlalchemy as sa

from connectors.errors import MissingColumn, SourceSpecError, SourceUnreadable

SourceKind = Literal["csv", "parquet", "sql", "dataframe"]
DEFAULT_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class SourceSpec:
    """A member source: a CSV or Parquet file, a SQL table or query, or an in-memory frame.

    `url` is a SQLAlchemy URL; exactly one of `table` and `query` goes with it. `encoding`
    applies to CSV only. `label` names a dataframe source in messages. A `discreet` source
    (every node's, whose errors and load reports reach other parties) is named by its `label`
    alone: messages carry no path, URL, table, column names or database driver detail;
    `location()` still gives the owner the real place.
    """

    kind: SourceKind
    path: str | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    encoding: str = "utf-8"
    label: str | None = None
    discreet: bool = False

    def __post_init__(self) -> None:
        if self.kind in ("csv", "parquet") and not self.path:
            raise SourceSpecError(f"a {self.kind} member source needs a path")
        if self.kind == "sql":
            if not self.url:
                raise SourceSpecError("a sql member source needs a SQLAlchemy url")
            if (self.table is None) == (self.query is None):
                raise SourceSpecError(
                    f"sql member source {self.describe()} needs exactly one of table and query"
                )
        if self.kind not in ("csv", "parquet", "sql", "dataframe"):
            raise SourceSpecError(f"unknown member source kind {self.kind!r}")

    def describe(self) -> str:
        """The source for messages: its label when discreet, else `location()`."""
        if self.discreet:
            return self.label or self.kind
        return self.location()

    def location(self) -> str:
        """Where the source is: a file path, or a URL (password masked) and table."""
        if self.kind in ("csv", "parquet"):
            return f"{self.kind} file {self.path}"
        if self.kind == "dataframe":
            return f"dataframe {self.label or '<unnamed>'}"
        where = f"table {self.table}" if self.table is not None else "query"
        return f"sql {mask_url(self.url or '')} {where}"


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***; unparseable URLs are hidden entirely."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable url>"


class MemberSource(Protocol):
    """A chunked reader of member rows."""

    @property
    def spec(self) -> SourceSpec: ...

    def columns(self) -> list[str]:
        """Names of the columns the source offers, in source order."""
        ...

    def iter_chunks(
        self, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[pd.DataFrame]:
        """Frames of at most `chunk_rows` rows holding exactly `columns`, in source order."""
        ...


def require_columns(
    source: str, wanted: Iterable[str], available: Sequence[str], discreet: bool = False
) -> None:
    """Raise `MissingColumn` for the first of `wanted` that is not in `available`."""
    present = set(available)
    for column in wanted:
        if column not in present:
            raise MissingColumn(column, source, available, discreet)


def check_chunk_rows(chunk_rows: int) -> None:
    """Reject chunk sizes below one row."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")


def distinct(columns: Sequence[str]) -> list[str]:
    """`columns` without repeats, first occurrence kept."""
    return list(dict.fromkeys(columns))


def unreadable(spec: SourceSpec, reason: str) -> SourceUnreadable:
    """The error for a source that cannot be read; a discreet one keeps `reason` as detail only."""
    if spec.discreet:
        return SourceUnreadable(
            spec.describe(),
            "it cannot be read just now (its owner's `gongying node check` says why)",
            detail=reason,
        )
    return SourceUnreadable(spec.describe(), reason)
