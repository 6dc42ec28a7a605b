"""Parquet member files read batch by batch with pyarrow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.file_source import FileSource
from connectors.source_spec import (
    DEFAULT_CHUNK_ROWS,
    check_chunk_rows,
    distinct,
    require_columns,
    unreadable,
)


class ParquetSource(FileSource):
    """A Parquet file; integer columns with nulls come back as Python ints and None."""

    def columns(self) -> list[str]:
        return [str(name) for name in self._open().schema_arrow.names]

    def iter_chunks(
        self, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[pd.DataFrame]:
        check_chunk_rows(chunk_rows)
        wanted = distinct(columns)
        parquet = self._open()
        require_columns(
            self._spec.describe(), wanted, list(parquet.schema_arrow.names), self._spec.discreet
        )
        batches = parquet.iter_batches(batch_size=chunk_rows, columns=wanted)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as error:
                raise unreadable(self._spec, str(error)) from error
            frame = batch.to_pandas(integer_object_nulls=True)
            yield frame[wanted]

    def _open(self) -> pq.ParquetFile:
        self._check_exists()
        try:
            return pq.ParquetFile(self._path)
        except (pa.ArrowException, OSError) as error:
            raise unreadable(self._spec, str(error)) from error
