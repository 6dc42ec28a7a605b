"""CSV member files read in chunks, every cell as text exactly as written."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence

import pandas as pd

from connectors.file_source import FileSource
from connectors.source_spec import (
    DEFAULT_CHUNK_ROWS,
    check_chunk_rows,
    distinct,
    require_columns,
    unreadable,
)

_PARSE_ERRORS = (pd.errors.ParserError, UnicodeDecodeError, ValueError)
TAIL_BYTES = 65536


class CsvSource(FileSource):
    """A CSV file with a header row; values come back as str (None for empty cells).

    CSV carries no types, so attributes are returned as written; callers that aggregate them
    parse numbers themselves. This keeps results identical whatever `chunk_rows` is.
    """

    def columns(self) -> list[str]:
        self._check_exists()
        try:
            header = pd.read_csv(self._path, nrows=0, encoding=self._spec.encoding)
        except pd.errors.EmptyDataError:
            raise unreadable(self._spec, "file is empty, no header row") from None
        except _PARSE_ERRORS as error:
            raise unreadable(self._spec, str(error)) from error
        return [str(c) for c in header.columns]

    def iter_chunks(
        self, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[pd.DataFrame]:
        check_chunk_rows(chunk_rows)
        wanted = distinct(columns)
        header = self.columns()
        require_columns(self._spec.describe(), wanted, header, self._spec.discreet)
        self._check_complete(len(header))
        try:
            reader = pd.read_csv(
                self._path,
                # No usecols: with it pandas accepts rows with extra fields, which are
                # misaligned data; reading every column keeps the field-count check.
                dtype=str,
                chunksize=chunk_rows,
                encoding=self._spec.encoding,
                # Only an empty cell is missing: "NA" or "null" may be somebody's member id.
                keep_default_na=False,
                na_values=[""],
            )
        except _PARSE_ERRORS as error:
            raise unreadable(self._spec, str(error)) from error
        with reader:
            while True:
                try:
                    chunk = next(reader)
                except StopIteration:
                    return
                except _PARSE_ERRORS as error:
                    raise unreadable(self._spec, str(error).strip()) from error
                frame = chunk[wanted].reset_index(drop=True)
                yield frame.astype(object).where(frame.notna(), None)

    def _check_complete(self, fields: int) -> None:
        """Refuse a file whose last row was cut off (fewer fields and no line ending)."""
        with open(self._path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read()
        if not tail or tail.endswith((b"\n", b"\r")):
            return
        last = tail.splitlines()[-1].decode(self._spec.encoding, errors="replace")
        try:
            row = next(csv.reader([last]))
        except csv.Error:
            row = []
        if len(row) < fields:
            raise unreadable(
                self._spec,
                f"the last row has {len(row)} of {fields} fields and no line ending: the file "
                "looks partially written",
            )
