"""Member data sources and identifier normalisation."""

from connectors.errors import (
    ColumnTypeError,
    ConnectorError,
    IdentifierTypeError,
    InvalidIdentifier,
    MissingColumn,
    ProfileError,
    SourceNotFound,
    SourceSpecError,
    SourceUnreadable,
)
from connectors.identifiers import (
    PROFILE_VERSION,
    REASONS,
    ColumnKind,
    IdType,
    NormalisationProfile,
    normalise,
    psi_element,
)
from connectors.members import LoadTally, MemberTable, load_members
from connectors.opener import FrameSource, open_source
from connectors.source_spec import MemberSource, SourceSpec

__all__ = [
    "PROFILE_VERSION",
    "REASONS",
    "ColumnKind",
    "ColumnTypeError",
    "ConnectorError",
    "FrameSource",
    "IdType",
    "IdentifierTypeError",
    "InvalidIdentifier",
    "LoadTally",
    "MemberSource",
    "MemberTable",
    "MissingColumn",
    "NormalisationProfile",
    "ProfileError",
    "SourceNotFound",
    "SourceSpec",
    "SourceSpecError",
    "SourceUnreadable",
    "load_members",
    "normalise",
    "open_source",
    "psi_element",
]
