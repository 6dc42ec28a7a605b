"""An in-memory pandas DataFrame as a member source, for tests and the Python SDK."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd

from connectors.source_spec import (
    DEFAULT_CHUNK_ROWS,
    SourceSpec,
    check_chunk_rows,
    distinct,
    require_columns,
)


class FrameSource:
    """Serves slices of a DataFrame the caller already holds; values keep their dtypes."""

    def __init__(self, frame: pd.DataFrame, label: str = "<in-memory>") -> None:
        self._frame = frame
        self._spec = SourceSpec(kind="dataframe", label=label)

    @property
    def spec(self) -> SourceSpec:
        return self._spec

    def columns(self) -> list[str]:
        return [str(c) for c in self._frame.columns]

    def iter_chunks(
        self, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[pd.DataFrame]:
        check_chunk_rows(chunk_rows)
        wanted = distinct(columns)
        require_columns(self._spec.describe(), wanted, self.columns())
        selected = self._frame[wanted]
        for start in range(0, len(selected), chunk_rows):
            yield selected.iloc[start : start + chunk_rows].reset_index(drop=True)
