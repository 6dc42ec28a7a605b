"""Narrow exceptions raised while reading member data and normalising identifiers."""

from __future__ import annotations

from collections.abc import Sequence


class ConnectorError(Exception):
    """Base class of every error raised by the connectors package."""


class SourceSpecError(ConnectorError):
    """A source specification is incomplete or contradictory."""


class SourceNotFound(ConnectorError):
    """The file or table a source points at does not exist."""

    def __init__(self, source: str, detail: str = "") -> None:
        self.source = source
        suffix = f": {detail}" if detail else ""
        super().__init__(f"member source not found: {source}{suffix}")


class SourceUnreadable(ConnectorError):
    """The source exists but cannot be read (corrupt or partial file, unreachable database).

    `detail` is the full reason for the owner when the message itself is discreet.
    """

    def __init__(self, source: str, reason: str, detail: str = "") -> None:
        self.source = source
        self.reason = reason
        self.detail = detail or reason
        super().__init__(f"cannot read member source {source}: {reason}")


class MissingColumn(ConnectorError):
    """A requested column is not present in the source."""

    def __init__(
        self, column: str, source: str, available: Sequence[str], discreet: bool = False
    ) -> None:
        self.column = column
        self.source = source
        self.available = list(available)
        if discreet:
            super().__init__(
                f"member source {source} lacks a column its owner's node config names "
                "(the owner's `gongying node check` names it)"
            )
            return
        listed = ", ".join(repr(c) for c in self.available) or "(none)"
        super().__init__(
            f"column {column!r} not found in member source {source}; available columns: {listed}"
        )


class ColumnTypeError(ConnectorError):
    """An identifier column holds values of a type that cannot be read as an identifier."""

    def __init__(self, source: str, column: str, row: int, found: str, hint: str = "") -> None:
        self.source = source
        self.column = column
        self.row = row
        self.found = found
        suffix = f"; {hint}" if hint else ""
        super().__init__(
            f"column {column!r} of member source {source}, data row {row}: "
            f"identifier value of type {found} is not text or an integer{suffix}"
        )


class IdentifierTypeError(ConnectorError):
    """A column of one identifier kind cannot serve the identifier type a query asks for."""

    def __init__(self, column: str, column_kind: str, id_type: str, serves: Sequence[str]) -> None:
        self.column = column
        self.column_kind = column_kind
        self.id_type = id_type
        listed = ", ".join(serves)
        super().__init__(
            f"column {column!r} holds {column_kind} identifiers and cannot serve id type "
            f"{id_type!r}; it serves: {listed}"
        )


class ProfileError(ConnectorError):
    """A normalisation profile names an unknown version or region."""


class InvalidIdentifier(ConnectorError):
    """One identifier value is invalid; `reason` is a short stable code from `REASONS`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
