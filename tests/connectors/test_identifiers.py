"""Known answers and invariants of identifier normalisation (profile gy-id/1)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import (
    PROFILE_VERSION,
    REASONS,
    ColumnKind,
    IdentifierTypeError,
    IdType,
    InvalidIdentifier,
    NormalisationProfile,
    ProfileError,
    normalise,
    psi_element,
)
from connectors.identifier_columns import normalise_column

CN = NormalisationProfile()
US = NormalisationProfile(default_region="US")
GMAIL = NormalisationProfile(gmail_canonical=True)

# Computed outside Python: printf %s alice.smith@example.com | sha256sum
ALICE_SHA256 = "7dcd3a39ad3a8d2145645ec612ed4f6fa3f297b47bdcf7e0aeb76040f5e24e89"

KNOWN_ANSWERS = [
    (ColumnKind.EMAIL, "  Alice.Smith@Example.COM ", IdType.EMAIL, CN, "alice.smith@example.com"),
    (ColumnKind.EMAIL, "\tBOB@mail.co.uk\n", IdType.EMAIL, CN, "bob@mail.co.uk"),
    (ColumnKind.EMAIL, "A.B+promo@Gmail.com", IdType.EMAIL, CN, "a.b+promo@gmail.com"),
    (ColumnKind.EMAIL, "A.B+promo@Gmail.com", IdType.EMAIL, GMAIL, "ab@gmail.com"),
    (ColumnKind.EMAIL, "a.b@googlemail.com", IdType.EMAIL, GMAIL, "ab@gmail.com"),
    (ColumnKind.EMAIL, "a.b+x@example.com", IdType.EMAIL, GMAIL, "a.b+x@example.com"),
    (ColumnKind.EMAIL, " Alice.Smith@Example.COM", IdType.EMAIL_SHA256, CN, ALICE_SHA256),
    (ColumnKind.PHONE, "138 0013 8000", IdType.PHONE, CN, "+8613800138000"),
    (ColumnKind.PHONE, "+86 (138) 0013-8000", IdType.PHONE, CN, "+8613800138000"),
    (ColumnKind.PHONE, 13800138000, IdType.PHONE, CN, "+8613800138000"),
    (ColumnKind.PHONE, "+1 650-253-0000", IdType.PHONE, CN, "+16502530000"),
    (ColumnKind.PHONE, "(650) 253-0000", IdType.PHONE, US, "+16502530000"),
    (ColumnKind.MEMBER_ID, "  M-00042 ", IdType.MEMBER_ID, CN, "M-00042"),
    (ColumnKind.MEMBER_ID, "NA", IdType.MEMBER_ID, CN, "NA"),
    (ColumnKind.MEMBER_ID, 42, IdType.MEMBER_ID, CN, "42"),
    (ColumnKind.EMAIL_SHA256, " " + ALICE_SHA256.upper() + " ", IdType.EMAIL_SHA256, CN,
     ALICE_SHA256),
    (ColumnKind.PHONE_SHA256, "0f" * 32, IdType.PHONE_SHA256, CN, "0f" * 32),
]  # fmt: skip

INVALID_ANSWERS = [
    (ColumnKind.EMAIL, "   ", IdType.EMAIL, CN, "empty"),
    (ColumnKind.EMAIL, None, IdType.EMAIL, CN, "empty"),
    (ColumnKind.EMAIL, float("nan"), IdType.EMAIL, CN, "empty"),
    (ColumnKind.EMAIL, "alice", IdType.EMAIL, CN, "email_syntax"),
    (ColumnKind.EMAIL, "alice@localhost", IdType.EMAIL, CN, "email_syntax"),
    (ColumnKind.EMAIL, "a@b@c.com", IdType.EMAIL, CN, "email_syntax"),
    (ColumnKind.EMAIL, "a b@c.com", IdType.EMAIL, CN, "email_syntax"),
    (ColumnKind.EMAIL, "a@c..com", IdType.EMAIL, CN, "email_syntax"),
    (ColumnKind.EMAIL, "a@.com", IdType.EMAIL, CN, "email_syntax"),
    (ColumnKind.EMAIL, "+tag@gmail.com", IdType.EMAIL, GMAIL, "email_syntax"),
    (ColumnKind.EMAIL, 1.5, IdType.EMAIL, CN, "not_text"),
    (ColumnKind.MEMBER_ID, True, IdType.MEMBER_ID, CN, "not_text"),
    (ColumnKind.PHONE, "call me", IdType.PHONE, CN, "phone_unparseable"),
    (ColumnKind.PHONE, "123", IdType.PHONE, CN, "phone_invalid"),
    (ColumnKind.PHONE, "(650) 253-0000", IdType.PHONE, CN, "phone_invalid"),
    (ColumnKind.PHONE, "", IdType.PHONE, CN, "empty"),
    (ColumnKind.MEMBER_ID, " \t", IdType.MEMBER_ID, CN, "empty"),
    (ColumnKind.EMAIL_SHA256, "ab" * 31, IdType.EMAIL_SHA256, CN, "hash_not_hex64"),
    (ColumnKind.EMAIL_SHA256, "zz" * 32, IdType.EMAIL_SHA256, CN, "hash_not_hex64"),
]


@pytest.mark.parametrize(("kind", "raw", "id_type", "profile", "expected"), KNOWN_ANSWERS)
def test_known_answers(
    kind: ColumnKind, raw: object, id_type: IdType, profile: NormalisationProfile, expected: str
) -> None:
    assert normalise(kind, raw, id_type, profile) == expected
    column = normalise_column(kind, pd.Series([raw], dtype=object), id_type, profile)
    assert column.values.tolist() == [expected]
    assert column.reasons.tolist() == [None]


@pytest.mark.parametrize(("kind", "raw", "id_type", "profile", "reason"), INVALID_ANSWERS)
def test_invalid_answers(
    kind: ColumnKind, raw: object, id_type: IdType, profile: NormalisationProfile, reason: str
) -> None:
    assert reason in REASONS
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(kind, raw, id_type, profile)
    assert caught.value.reason == reason
    column = normalise_column(kind, pd.Series([raw], dtype=object), id_type, profile)
    assert column.values.tolist() == [None]
    assert column.reasons.tolist() == [reason]


def test_psi_element_is_type_colon_value() -> None:
    assert psi_element(IdType.EMAIL, "alice.smith@example.com") == b"email:alice.smith@example.com"
    assert psi_element(IdType.PHONE_SHA256, "0f" * 32) == b"phone_sha256:" + b"0f" * 32
    assert psi_element(IdType.MEMBER_ID, "会员-1") == "member_id:会员-1".encode()


SERVABLE = {
    (ColumnKind.EMAIL, IdType.EMAIL),
    (ColumnKind.EMAIL, IdType.EMAIL_SHA256),
    (ColumnKind.PHONE, IdType.PHONE),
    (ColumnKind.PHONE, IdType.PHONE_SHA256),
    (ColumnKind.MEMBER_ID, IdType.MEMBER_ID),
    (ColumnKind.EMAIL_SHA256, IdType.EMAIL_SHA256),
    (ColumnKind.PHONE_SHA256, IdType.PHONE_SHA256),
}


@pytest.mark.parametrize("kind", list(ColumnKind))
@pytest.mark.parametrize("id_type", list(IdType))
def test_column_kind_serves_only_its_id_types(kind: ColumnKind, id_type: IdType) -> None:
    if (kind, id_type) in SERVABLE:
        return
    with pytest.raises(IdentifierTypeError) as caught:
        normalise_column(kind, pd.Series(["x"], name="contact"), id_type, CN)
    message = str(caught.value)
    assert "'contact'" in message and str(kind) in message and repr(str(id_type)) in message


def test_profile_rejects_unknown_version_and_region() -> None:
    assert CN.version == PROFILE_VERSION
    with pytest.raises(ProfileError, match="gy-id/9"):
        NormalisationProfile(version="gy-id/9")
    with pytest.raises(ProfileError, match="'XX'"):
        NormalisationProfile(default_region="XX")
    assert CN.label() != GMAIL.label()


emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[A-Za-z0-9._+-]{1,12}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9-]{1,10}", fullmatch=True),
    st.sampled_from(["com", "CN", "co.uk", "Org"]),
)
padding = st.text(alphabet=" \t\n\u3000", max_size=3)


@settings(max_examples=150, deadline=None)
@given(email=emails, left=padding, right=padding, gmail=st.booleans())
def test_email_normalisation_is_idempotent_and_ignores_case_and_padding(
    email: str, left: str, right: str, gmail: bool
) -> None:
    profile = NormalisationProfile(gmail_canonical=gmail)
    value = normalise(ColumnKind.EMAIL, email, IdType.EMAIL, profile)
    assert normalise(ColumnKind.EMAIL, value, IdType.EMAIL, profile) == value
    for variant in (left + email.upper() + right, left + email.lower() + right):
        assert normalise(ColumnKind.EMAIL, variant, IdType.EMAIL, profile) == value
    hashed = normalise(ColumnKind.EMAIL, email, IdType.EMAIL_SHA256, profile)
    assert hashed == hashlib.sha256(value.encode()).hexdigest()
    assert (
        normalise(ColumnKind.EMAIL_SHA256, hashed.upper(), IdType.EMAIL_SHA256, profile) == hashed
    )


@settings(max_examples=60, deadline=None)
@given(
    subscriber=st.integers(min_value=0, max_value=99_999_999),
    prefix=st.sampled_from(["130", "138", "150", "186", "199"]),
)
def test_phone_normalisation_is_idempotent_across_formats(subscriber: int, prefix: str) -> None:
    digits = f"{prefix}{subscriber:08d}"
    value = normalise(ColumnKind.PHONE, digits, IdType.PHONE, CN)
    assert value == "+86" + digits
    spaced = f"+86 {digits[:3]} {digits[3:7]}-{digits[7:]}"
    assert normalise(ColumnKind.PHONE, spaced, IdType.PHONE, CN) == value
    assert normalise(ColumnKind.PHONE, value, IdType.PHONE, US) == value


cells = st.one_of(
    st.none(),
    st.text(max_size=12),
    emails,
    st.builds(lambda e, p: p + e.upper() + p, emails, padding),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True),
    st.sampled_from(["+86 138 0013 8000", "13800138000", "123", "ab" * 32, "A.B+x@GMAIL.com"]),
)


@settings(max_examples=120, deadline=None)
@given(
    raw=st.lists(cells, max_size=20), gmail=st.booleans(), kind=st.sampled_from(list(ColumnKind))
)
def test_column_normalisation_equals_scalar_normalisation(
    raw: list[object], gmail: bool, kind: ColumnKind
) -> None:
    profile = NormalisationProfile(gmail_canonical=gmail)
    id_type = IdType.EMAIL_SHA256 if kind == ColumnKind.EMAIL else IdType(str(kind))
    column = normalise_column(kind, pd.Series(raw, dtype=object), id_type, profile)
    for cell, value, reason in zip(raw, column.values, column.reasons, strict=True):
        try:
            assert (value, reason) == (normalise(kind, cell, id_type, profile), None)
        except InvalidIdentifier as invalid:
            assert (value, reason) == (None, invalid.reason)
