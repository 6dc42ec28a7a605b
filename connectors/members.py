"""Load one party's distinct PSI elements and their attributes from a member source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from connectors.errors import ColumnTypeError
from connectors.identifier_columns import normalise_column
from connectors.identifiers import (
    REASON_NOT_TEXT,
    ColumnKind,
    IdType,
    NormalisationProfile,
    check_serves,
)
from connectors.source_spec import DEFAULT_CHUNK_ROWS, MemberSource, distinct, require_columns


@dataclass
class LoadReport:
    """What happened to every row read: accepted, duplicate, or invalid per reason."""

    source: str
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    first_invalid: dict[str, int] = field(default_factory=dict)

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())

    def summary(self) -> str:
        """One line for people: counts, and where each kind of invalid row first occurs."""
        text = (
            f"{self.source}: {self.rows_read} rows read, {self.accepted} distinct members, "
            f"{self.duplicates} duplicates, {self.invalid_total} invalid"
        )
        if self.invalid:
            parts = (
                f"{reason} {count} (first at row {self.first_invalid[reason]})"
                for reason, count in sorted(self.invalid.items())
            )
            text += " [" + "; ".join(parts) + "]"
        return text


@dataclass
class MemberTable:
    """Distinct PSI elements in first-seen order, attributes aligned with them."""

    elements: list[bytes]
    attributes: dict[str, list[object]]
    report: LoadReport


def load_members(
    source: MemberSource,
    id_column: str,
    column_kind: ColumnKind,
    id_type: IdType,
    profile: NormalisationProfile,
    attributes: Sequence[str] = (),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> MemberTable:
    """Read, normalise and de-duplicate (first occurrence wins) a source's members.

    Rows with an invalid identifier are counted per reason in the report. A cell that is not
    text or an integer (a float, a date, bytes) raises `ColumnTypeError` naming its row.
    """
    check_serves(id_column, column_kind, id_type)
    described = source.spec.describe()
    attribute_names = distinct(attributes)
    require_columns(described, [id_column, *attribute_names], source.columns())
    report = LoadReport(source=described)
    table = MemberTable(elements=[], attributes={a: [] for a in attribute_names}, report=report)
    seen: set[bytes] = set()
    prefix = f"{id_type}:"
    for chunk in source.iter_chunks([id_column, *attribute_names], chunk_rows):
        chunk = chunk.reset_index(drop=True)
        first_row = report.rows_read + 1
        outcome = normalise_column(column_kind, chunk[id_column], id_type, profile)
        _count_invalid(report, outcome.reasons, first_row, described, id_column, chunk)
        report.rows_read += len(chunk)
        valid = outcome.reasons.isna()
        kept: list[int] = []
        for position, value in zip(
            valid[valid].index.tolist(), outcome.values[valid].tolist(), strict=True
        ):
            element = (prefix + value).encode()
            if element in seen:
                report.duplicates += 1
                continue
            seen.add(element)
            table.elements.append(element)
            kept.append(position)
        for name in attribute_names:
            table.attributes[name].extend(_plain_values(chunk[name].iloc[kept]))
    report.accepted = len(table.elements)
    return table


def _count_invalid(
    report: LoadReport,
    reasons: pd.Series,
    first_row: int,
    source: str,
    column: str,
    chunk: pd.DataFrame,
) -> None:
    invalid = reasons[reasons.notna()]
    if invalid.empty:
        return
    not_text = invalid[invalid == REASON_NOT_TEXT]
    if not not_text.empty:
        position = int(not_text.index[0])
        found = type(chunk[column].iloc[position]).__name__
        hint = f"column dtype is {chunk[column].dtype}; give identifiers as text or integers"
        raise ColumnTypeError(source, column, first_row + position, found, hint)
    for reason, count in invalid.value_counts(sort=False).items():
        key = str(reason)
        report.invalid[key] = report.invalid.get(key, 0) + int(count)
        if key not in report.first_invalid:
            report.first_invalid[key] = first_row + int(invalid[invalid == key].index[0])


def _plain_values(column: pd.Series) -> list[object]:
    """Python values of a column, missing ones (NaN, NA, NaT) as None."""
    values: list[object] = column.astype(object).tolist()
    return [None if _is_missing(v) else v for v in values]


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False
