"""What the member-file readers share: the spec, its path, and a refusal when no file is there."""

from __future__ import annotations

import os

from connectors.errors import SourceNotFound
from connectors.source_spec import SourceSpec


class FileSource:
    """A member file at the spec's path; CsvSource and ParquetSource read it their own way."""

    def __init__(self, spec: SourceSpec) -> None:
        self._spec = spec
        self._path = spec.path or ""

    @property
    def spec(self) -> SourceSpec:
        return self._spec

    def _check_exists(self) -> None:
        """Refuse a path with no regular file behind it (missing, or a folder)."""
        if not os.path.isfile(self._path):
            raise SourceNotFound(self._spec.describe(), "no such file")
