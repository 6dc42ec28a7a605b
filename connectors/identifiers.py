"""Identifier normalisation per a versioned profile, and the exact element that enters PSI."""

from __future__ import annotations

import hashlib
import math
import numbers
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import phonenumbers

from connectors.errors import IdentifierTypeError, InvalidIdentifier, ProfileError

PROFILE_VERSION: Final = "gy-id/1"
SUPPORTED_PROFILE_VERSIONS: Final = frozenset({PROFILE_VERSION})

# Stable reason codes for rows dropped as invalid (DESIGN 3.1). Never rename one: reports
# and audit logs are compared across parties and releases.
REASON_EMPTY: Final = "empty"
REASON_NOT_TEXT: Final = "not_text"
REASON_EMAIL_SYNTAX: Final = "email_syntax"
REASON_PHONE_UNPARSEABLE: Final = "phone_unparseable"
REASON_PHONE_INVALID: Final = "phone_invalid"
REASON_HASH_NOT_HEX64: Final = "hash_not_hex64"
REASONS: Final = (
    REASON_EMPTY,
    REASON_NOT_TEXT,
    REASON_EMAIL_SYNTAX,
    REASON_PHONE_UNPARSEABLE,
    REASON_PHONE_INVALID,
    REASON_HASH_NOT_HEX64,
)

# local@domain, no whitespace or second '@', domain made of >= 2 non-empty dot-separated labels.
EMAIL_PATTERN: Final = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
HEX64_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})


class IdType(StrEnum):
    """The identifier type a query matches on; its value prefixes every PSI element."""

    EMAIL = "email"
    PHONE = "phone"
    MEMBER_ID = "member_id"
    EMAIL_SHA256 = "email_sha256"
    PHONE_SHA256 = "phone_sha256"


class ColumnKind(StrEnum):
    """What a source column holds."""

    EMAIL = "email"
    PHONE = "phone"
    MEMBER_ID = "member_id"
    EMAIL_SHA256 = "email_sha256"  # hex SHA-256 of a normalised email
    PHONE_SHA256 = "phone_sha256"  # hex SHA-256 of an E.164 phone number


SERVES: Final[dict[ColumnKind, tuple[IdType, ...]]] = {
    ColumnKind.EMAIL: (IdType.EMAIL, IdType.EMAIL_SHA256),
    ColumnKind.PHONE: (IdType.PHONE, IdType.PHONE_SHA256),
    ColumnKind.MEMBER_ID: (IdType.MEMBER_ID,),
    ColumnKind.EMAIL_SHA256: (IdType.EMAIL_SHA256,),
    ColumnKind.PHONE_SHA256: (IdType.PHONE_SHA256,),
}


@dataclass(frozen=True)
class NormalisationProfile:
    """The rules both sides of a query apply; the query carries it and nodes compare it."""

    version: str = PROFILE_VERSION
    default_region: str = "CN"
    gmail_canonical: bool = False

    def __post_init__(self) -> None:
        if self.version not in SUPPORTED_PROFILE_VERSIONS:
            known = ", ".join(sorted(SUPPORTED_PROFILE_VERSIONS))
            raise ProfileError(
                f"normalisation profile version {self.version!r} is not supported; known: {known}"
            )
        if self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ProfileError(
                f"default_region {self.default_region!r} is not an ISO region phonenumbers knows"
            )

    def label(self) -> str:
        """One string naming every rule, for comparing profiles across parties."""
        gmail = "1" if self.gmail_canonical else "0"
        return f"{self.version};region={self.default_region};gmail={gmail}"


def check_serves(column: str, column_kind: ColumnKind, id_type: IdType) -> None:
    """Raise `IdentifierTypeError` unless a `column_kind` column can serve `id_type`."""
    serves = SERVES[column_kind]
    if id_type not in serves:
        raise IdentifierTypeError(column, str(column_kind), str(id_type), [str(t) for t in serves])


def as_text(raw: object) -> str | None:
    """Text of an identifier cell: None when missing, str for text and integers.

    Raises `InvalidIdentifier("not_text")` for floats, booleans, bytes and anything else: a
    float id has usually lost digits or gained a ".0", and guessing would merge members.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, numbers.Integral) and not isinstance(raw, bool):
        return str(int(raw))
    if isinstance(raw, float) and math.isnan(raw):
        return None
    if type(raw).__name__ in {"NAType", "NaTType"}:
        return None
    raise InvalidIdentifier(REASON_NOT_TEXT)


def sha256_hex(value: str) -> str:
    """Lower-case hex SHA-256 of the UTF-8 of `value`."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(text: str, profile: NormalisationProfile) -> str:
    """Trimmed, lower-cased email, optionally with gmail dots and +tags removed."""
    value = text.lower().strip()
    if value == "":
        raise InvalidIdentifier(REASON_EMPTY)
    if EMAIL_PATTERN.fullmatch(value) is None:
        raise InvalidIdentifier(REASON_EMAIL_SYNTAX)
    if profile.gmail_canonical:
        value = canonical_gmail(value)
    return value


def canonical_gmail(email: str) -> str:
    """Gmail address without dots and +tag in the local part, on gmail.com; others unchanged."""
    local, _, domain = email.rpartition("@")
    if domain not in GMAIL_DOMAINS:
        return email
    local = local.split("+", 1)[0].replace(".", "")
    if local == "":
        raise InvalidIdentifier(REASON_EMAIL_SYNTAX)
    return f"{local}@gmail.com"


def normalise_phone(text: str, profile: NormalisationProfile) -> str:
    """Phone number in E.164, parsed with the profile's default region; must be valid."""
    if text.strip() == "":
        raise InvalidIdentifier(REASON_EMPTY)
    try:
        number = phonenumbers.parse(text, profile.default_region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(REASON_PHONE_UNPARSEABLE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(REASON_PHONE_INVALID)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_member_id(text: str) -> str:
    """Member id as given, without surrounding whitespace; must be non-empty."""
    value = text.strip()
    if value == "":
        raise InvalidIdentifier(REASON_EMPTY)
    return value


def normalise_hex64(text: str) -> str:
    """SHA-256 hex digest, trimmed and lower-cased; exactly 64 hex characters."""
    value = text.strip().lower()
    if value == "":
        raise InvalidIdentifier(REASON_EMPTY)
    if HEX64_PATTERN.fullmatch(value) is None:
        raise InvalidIdentifier(REASON_HASH_NOT_HEX64)
    return value


def normalise(
    kind: ColumnKind,
    raw: object,
    id_type: IdType,
    profile: NormalisationProfile | None = None,
) -> str:
    """Normalised value of one `kind` cell for `id_type`, or `InvalidIdentifier(reason)`.

    Raises `IdentifierTypeError` when the column kind cannot serve the id type at all.
    """
    profile = profile if profile is not None else NormalisationProfile()
    check_serves("<value>", kind, id_type)
    text = as_text(raw)
    if text is None:
        raise InvalidIdentifier(REASON_EMPTY)
    if kind == ColumnKind.EMAIL:
        value = normalise_email(text, profile)
    elif kind == ColumnKind.PHONE:
        value = normalise_phone(text, profile)
    elif kind == ColumnKind.MEMBER_ID:
        return normalise_member_id(text)
    else:
        return normalise_hex64(text)
    if id_type in (IdType.EMAIL_SHA256, IdType.PHONE_SHA256):
        return sha256_hex(value)
    return value


def psi_element(id_type: IdType, value: str) -> bytes:
    """The exact bytes that enter PSI: `id_type || ":" || normalised_value` (DESIGN 3.1)."""
    return f"{id_type}:{value}".encode()
