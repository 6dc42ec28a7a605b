"""The demo generator: file shape, domains, messiness, determinism and its ground truth."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import phonenumbers
import pytest

from gongying.demo_data import (
    AGE_BANDS,
    BRAND_OVERLAP,
    CATEGORIES,
    CITY_TIERS,
    GENDERS,
    RARE_CATEGORY,
    SPEND_BOUNDS,
    VISITS_BOUNDS,
    DemoDataset,
    generate_demo_data,
)
from gongying.oracle import identifier_sets_from_files, overlap_truth

MEMBERS = 3_000
EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def plain_email(raw: str) -> str | None:
    """Trimmed, lower-cased, and of the shape local@domain.tld; else None."""
    value = raw.strip().lower()
    return value if EMAIL_SHAPE.fullmatch(value) else None


def plain_phone(raw: str) -> str | None:
    """E.164 of a valid number for default region CN; else None."""
    if not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DemoDataset:
    return generate_demo_data(tmp_path_factory.mktemp("demo"), members=MEMBERS, seed=11)


@pytest.fixture(scope="module")
def frames(dataset: DemoDataset) -> dict[str, pd.DataFrame]:
    return {
        party: pd.read_csv(path, dtype=str, keep_default_na=False)
        for party, path in dataset.paths.items()
    }


def retailers(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([frames[p] for p in ("retailer_a", "retailer_b", "retailer_c")])


def test_files_and_columns(dataset: DemoDataset, frames: dict[str, pd.DataFrame]) -> None:
    assert sorted(p.name for p in dataset.paths.values()) == [
        "brand.csv",
        "retailer_a.csv",
        "retailer_b.csv",
        "retailer_c.csv",
    ]
    assert list(frames["brand"].columns) == ["customer_id", "email", "phone", "signup_date"]
    for party in ("retailer_a", "retailer_b", "retailer_c"):
        assert list(frames[party].columns) == [
            "member_id",
            "email",
            "phone",
            "age_band",
            "gender",
            "city_tier",
            "spend_12m",
            "visits_12m",
            "favourite_category",
        ]
        assert MEMBERS <= len(frames[party]) <= 1.02 * MEMBERS
        assert frames[party]["member_id"].is_unique
        assert dataset.rows[party] == len(frames[party])
    assert 0.45 * MEMBERS <= len(frames["brand"]) <= 0.55 * MEMBERS
    assert frames["brand"]["customer_id"].is_unique
    dates = pd.to_datetime(frames["brand"]["signup_date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2015-01-01")
    assert dates.max() <= pd.Timestamp("2025-06-30")


def test_attribute_domains(frames: dict[str, pd.DataFrame]) -> None:
    rows = retailers(frames)
    assert set(rows["age_band"]) <= {*AGE_BANDS, ""}
    assert set(rows["gender"]) == set(GENDERS)
    assert set(rows["city_tier"]) == set(CITY_TIERS)
    assert RARE_CATEGORY not in CATEGORIES
    assert set(rows["favourite_category"]) == {*CATEGORIES, RARE_CATEGORY, ""}
    spend = rows["spend_12m"].astype(float)
    assert spend.min() >= SPEND_BOUNDS[0]
    assert (spend == 0).sum() > 0
    assert 0 < (spend > SPEND_BOUNDS[1]).sum() < 0.02 * len(rows)  # a long tail to clip
    visits = rows["visits_12m"].astype(int)
    assert visits.between(*VISITS_BOUNDS).all()
    assert (rows["age_band"] == "").sum() > 0  # missing values exercise the `other` bin


def test_identifiers_are_messy(frames: dict[str, pd.DataFrame]) -> None:
    emails = pd.concat([f["email"] for f in frames.values()])
    phones = pd.concat([f["phone"] for f in frames.values()])
    assert (emails != emails.str.strip()).sum() > 0
    assert (emails.str.strip() != emails.str.strip().str.lower()).sum() > 0
    assert {e.rsplit("@", 1)[-1].strip().lower() for e in emails} >= {"qq.com", "163.com"}
    for shape in [
        r"1\d{10}",
        r"1\d\d \d{4} \d{4}",
        r"\+86 1\d\d-\d{4}-\d{4}",
        r"0086 1\d{10}",
        r"\(\+86\) 1\d{10}",
        r"\+861\d{10}",
    ]:
        assert phones.str.fullmatch(shape).sum() > 0, shape
    assert (phones == "").mean() == pytest.approx(0.05, abs=0.015)
    assert emails.map(plain_email).isna().sum() > 0
    assert phones[phones != ""].map(plain_phone).isna().sum() > 0
    for frame in frames.values():  # the same person twice in one file, after normalisation
        assert frame["email"].map(plain_email).dropna().duplicated().sum() > 0


def test_every_phone_format_names_one_number(frames: dict[str, pd.DataFrame]) -> None:
    phones = pd.concat([f["phone"] for f in frames.values()], ignore_index=True)
    normalised = phones.map(plain_phone)
    valid = normalised.notna()
    last_eleven = phones.str.replace(r"\D", "", regex=True).str[-11:]
    assert (normalised[valid] == "+86" + last_eleven[valid]).all()
    assert valid.mean() > 0.9
    broken = phones[~valid & (phones != "")].str.replace(r"\D", "", regex=True)
    assert broken.str.len().isin([10, 12]).all()  # one digit short or one too many


def test_ground_truth_matches_files(dataset: DemoDataset) -> None:
    """Counting normalised identifiers in the files gives exactly the generator's person counts:
    sizes, every Venn region, every pair and the 4-way overlap, for emails and for phones."""
    emails = identifier_sets_from_files(dataset.paths, "email", plain_email)
    phones = identifier_sets_from_files(dataset.paths, "phone", plain_phone)
    assert overlap_truth(emails) == dataset.truth("email")
    assert overlap_truth(phones) == dataset.truth("phone")
    assert {p: len(s) for p, s in emails.items()} == {
        p: len(s) for p, s in dataset.email_persons.items()
    }


def test_skipping_normalisation_gets_the_overlap_wrong(dataset: DemoDataset) -> None:
    raw = identifier_sets_from_files(dataset.paths, "email", lambda v: v or None)
    assert overlap_truth(raw).pair("brand", "retailer_a") < dataset.truth("email").pair(
        "brand", "retailer_a"
    )


def test_overlaps_follow_the_design(dataset: DemoDataset) -> None:
    truth = dataset.truth("email")
    brand = truth.sizes["brand"]
    for retailer, share in BRAND_OVERLAP.items():
        assert truth.pair("brand", retailer) / brand == pytest.approx(share, abs=0.02)
    assert truth.all_parties >= 0.01 * brand
    retailer_pairs = {
        truth.pair(a, b)
        for a, b in [
            ("retailer_a", "retailer_b"),
            ("retailer_a", "retailer_c"),
            ("retailer_b", "retailer_c"),
        ]
    }
    assert len(retailer_pairs) == 3 and min(retailer_pairs) > 0.2 * MEMBERS
    assert dataset.population == round(2.5 * MEMBERS)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    first = generate_demo_data(tmp_path / "one", members=200, seed=3)
    second = generate_demo_data(tmp_path / "two", members=200, seed=3)
    third = generate_demo_data(tmp_path / "three", members=200, seed=4)
    for party, path in first.paths.items():
        assert path.read_bytes() == second.paths[party].read_bytes()
        assert path.read_bytes() != third.paths[party].read_bytes()
    assert first.email_persons == second.email_persons
    assert first.phone_persons == second.phone_persons


def test_too_few_members_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="members must be at least 20, got 5"):
        generate_demo_data(tmp_path, members=5)


@pytest.mark.parametrize("gmail_canonical", [False, True])
def test_connectors_normaliser_agrees_with_ground_truth(
    dataset: DemoDataset, gmail_canonical: bool
) -> None:
    """The node's own normaliser reaches the generator's counts (the demo relies on this)."""
    from connectors.errors import InvalidIdentifier
    from connectors.identifiers import ColumnKind, IdType, NormalisationProfile, normalise

    profile = NormalisationProfile(gmail_canonical=gmail_canonical)

    def with_connectors(kind: ColumnKind, id_type: IdType) -> Callable[[str], str | None]:
        def one(value: str) -> str | None:
            try:
                return normalise(kind, value, id_type, profile)
            except InvalidIdentifier:
                return None

        return one

    emails = with_connectors(ColumnKind.EMAIL, IdType.EMAIL)
    phones = with_connectors(ColumnKind.PHONE, IdType.PHONE)
    email_sets = identifier_sets_from_files(dataset.paths, "email", emails)
    assert overlap_truth(email_sets) == dataset.truth("email")
    if not gmail_canonical:
        phone_sets = identifier_sets_from_files(dataset.paths, "phone", phones)
        assert overlap_truth(phone_sets) == dataset.truth("phone")
