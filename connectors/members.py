"""Load one party's distinct PSI elements and their attributes from a member source.

Memory: the distinct elements are kept packed, one byte buffer plus an int64 offset per element
(about len(element) + 8 bytes each, e.g. ~35 bytes for an email, against ~110 for a list of bytes
objects plus a set to de-duplicate), and de-duplication uses two 64-bit keyed hashes per valid row
(16 bytes, plus ~40 bytes per row transiently while sorting them once at the end).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
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
class LoadTally:
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


class PackedElements(Sequence[bytes]):
    """Byte strings packed in one buffer: element i is data[offsets[index[i]]:offsets[index[i]+1]].

    `take(order)` reorders without copying the bytes (it composes the index), so a node's secretly
    shuffled set costs 8 more bytes per element, not a second list of objects. A slice gives a
    list of bytes (one chunk for the workers).
    """

    def __init__(
        self, data: bytes | bytearray, offsets: np.ndarray, index: np.ndarray | None = None
    ) -> None:
        self._data = data
        self._offsets = offsets
        self._index = index

    @classmethod
    def from_list(cls, elements: Sequence[bytes]) -> PackedElements:
        lengths = np.fromiter((len(e) for e in elements), dtype=np.int64, count=len(elements))
        return cls(b"".join(elements), np.concatenate([[0], np.cumsum(lengths)]))

    def __len__(self) -> int:
        return len(self._offsets) - 1 if self._index is None else len(self._index)

    def _at(self, position: int) -> bytes:
        row = position if self._index is None else int(self._index[position])
        return bytes(self._data[int(self._offsets[row]) : int(self._offsets[row + 1])])

    @overload
    def __getitem__(self, item: int) -> bytes: ...

    @overload
    def __getitem__(self, item: slice) -> list[bytes]: ...

    def __getitem__(self, item: int | slice) -> bytes | list[bytes]:
        if isinstance(item, slice):
            return self._slice(*item.indices(len(self)))
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError("element index out of range")
        return self._at(item)

    def _slice(self, start: int, stop: int, step: int) -> list[bytes]:
        """Elements start:stop:step, their bounds looked up for the whole slice at once."""
        rows = np.arange(start, stop, step)
        if self._index is not None:
            rows = self._index[rows]
        begins = self._offsets[rows].tolist()
        ends = self._offsets[rows + 1].tolist()
        view = memoryview(self._data)
        return [view[b:e].tobytes() for b, e in zip(begins, ends, strict=True)]

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self._at(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PackedElements({len(self)} elements)"

    def take(self, order: np.ndarray) -> PackedElements:
        """The elements in `order` (positions into this sequence), sharing this buffer."""
        order = np.asarray(order, dtype=np.int64)
        index = order if self._index is None else self._index[order]
        return PackedElements(self._data, self._offsets, index)

    def nbytes(self) -> int:
        """Bytes held: buffer, offsets and index."""
        index = 0 if self._index is None else self._index.nbytes
        return len(self._data) + self._offsets.nbytes + index


_HASH_KEYS = ("gongying-dedup-1", "gongying-dedup-2")


def _first_occurrences(
    high: np.ndarray, second: Callable[[np.ndarray], np.ndarray], block: int = 1 << 20
) -> np.ndarray | None:
    """Positions of the first occurrence of each distinct row, ascending, where rows are
    distinct when their 128-bit hash (`high`, `second(rows)`) differs; None when every row is.

    Only an index sorted by `high` is made (8 bytes per row; neighbours are compared `block`
    rows at a time); only the rows whose `high` repeats (duplicates, or a 64-bit collision of
    two different elements) get their second hash, and are sorted exactly by (high, second,
    position).
    """
    count = len(high)
    order = np.argsort(high)
    tied = np.zeros(count, dtype=bool)
    for start in range(0, max(count - 1, 0), block):
        end = min(start + block + 1, count)
        window = high[order[start:end]]
        same = window[1:] == window[:-1]
        tied[start + 1 : end] |= same
        tied[start : end - 1] |= same
    rows = order[tied]
    del order, tied
    if len(rows) == 0:
        return None
    rows_high, rows_low = high[rows], second(rows)
    by = np.lexsort((rows, rows_low, rows_high))
    rows, rows_high, rows_low = rows[by], rows_high[by], rows_low[by]
    repeat = (rows_high[1:] == rows_high[:-1]) & (rows_low[1:] == rows_low[:-1])
    if not repeat.any():
        return None
    first = np.ones(count, dtype=bool)
    first[rows[1:][repeat]] = False
    return np.flatnonzero(first)


def _joined(parts: list[np.ndarray], dtype: type[np.generic]) -> np.ndarray:
    """The parts end to end in one array, each part dropped from the list once copied (so the
    parts and the whole are never all held at once)."""
    whole = np.empty(sum(len(part) for part in parts), dtype=dtype)
    at = 0
    while parts:
        part = parts.pop(0)
        whole[at : at + len(part)] = part
        at += len(part)
    return whole


@dataclass
class MemberTable:
    """Distinct PSI elements in first-seen order, attributes aligned with them."""

    elements: PackedElements
    attributes: dict[str, list[object]]
    report: LoadTally


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
    require_columns(
        described, [id_column, *attribute_names], source.columns(), source.spec.discreet
    )
    report = LoadTally(source=described)
    # a discreet source's errors name the config key, not the owner's column
    named = f"[identifiers].{column_kind.value}" if source.spec.discreet else id_column
    prefix = f"{id_type}:"
    data = bytearray()
    lengths: list[np.ndarray] = []
    highs: list[np.ndarray] = []  # a 64-bit hash per row, for de-duplicating
    values_read: dict[str, list[object]] = {a: [] for a in attribute_names}
    for chunk in source.iter_chunks([id_column, *attribute_names], chunk_rows):
        chunk = chunk.reset_index(drop=True)
        first_row = report.rows_read + 1
        outcome = normalise_column(column_kind, chunk[id_column], id_type, profile)
        _count_invalid(report, outcome.reasons, first_row, described, id_column, chunk, named)
        report.rows_read += len(chunk)
        valid = outcome.reasons.isna()
        texts = np.asarray(outcome.values[valid].tolist(), dtype=object)
        encoded = [(prefix + value).encode() for value in texts]
        data += b"".join(encoded)
        lengths.append(np.fromiter(map(len, encoded), dtype=np.int32, count=len(encoded)))
        highs.append(pd.util.hash_array(texts, hash_key=_HASH_KEYS[0]))
        del encoded, texts
        kept = valid[valid].index.tolist()
        for name in attribute_names:
            values_read[name].extend(_plain_values(chunk[name].iloc[kept]))
    offsets = np.zeros(1 + sum(len(x) for x in lengths), dtype=np.int64)
    np.cumsum(_joined(lengths, np.int64), out=offsets[1:])
    high = _joined(highs, np.uint64)
    every = PackedElements(data, offsets)

    def second(rows: np.ndarray) -> np.ndarray:
        """A second 64-bit hash of the given rows' elements (only rows whose first repeats)."""
        chosen = np.array(every.take(rows)[:], dtype=object)
        return np.asarray(pd.util.hash_array(chosen, hash_key=_HASH_KEYS[1]), dtype=np.uint64)

    first = _first_occurrences(high, second)
    del high
    rows = len(offsets) - 1
    report.duplicates = 0 if first is None else rows - len(first)
    elements = PackedElements(data, offsets, first)
    aligned = {
        name: values if first is None else [values[i] for i in first.tolist()]
        for name, values in values_read.items()
    }
    report.accepted = len(elements)
    return MemberTable(elements=elements, attributes=aligned, report=report)


def _count_invalid(
    report: LoadTally,
    reasons: pd.Series,
    first_row: int,
    source: str,
    column: str,
    chunk: pd.DataFrame,
    named: str,
) -> None:
    invalid = reasons[reasons.notna()]
    if invalid.empty:
        return
    not_text = invalid[invalid == REASON_NOT_TEXT]
    if not not_text.empty:
        position = int(not_text.index[0])
        found = type(chunk[column].iloc[position]).__name__
        hint = f"column dtype is {chunk[column].dtype}; give identifiers as text or integers"
        raise ColumnTypeError(source, named, first_row + position, found, hint)
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
