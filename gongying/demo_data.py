"""Synthetic member data for the built-in demo: one brand and three retailers, seeded.

The generator draws every party's rows from one population of persons, so the overlaps are
known by construction. Identifiers are deliberately messy (mixed case and padding in emails,
several formats of the same mainland mobile number, a few invalid or empty values, duplicate
rows of one person), so that a pipeline which skips normalisation gets visibly wrong counts.

Guarantees, relied on by the tests and the demo:
- each person has one email and one mobile number, distinct from every other person's (emails
  stay distinct with gmail's dot rule applied), and carries that same email (and, when
  present, phone) in every file they appear in;
- ``DemoDataset.email_persons[party]`` is exactly the set of person ids having at least one row
  in that party's file whose email is valid; ``phone_persons`` the same for phones;
- an invalid email has no ``@``, an empty local part or an empty domain; an invalid phone is a
  mobile number with one digit missing or one digit too many (never valid for region CN).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv

from gongying.demo_identifiers import (
    Ints,
    Strings,
    draw_emails,
    draw_phones,
    messy_emails,
    messy_phones,
)
from gongying.oracle import OverlapTruth, overlap_truth

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS: tuple[str, ...] = ("female", "male", "unknown")
CITY_TIERS: tuple[str, ...] = ("tier1", "tier2", "tier3", "tier4")
CATEGORIES: tuple[str, ...] = (
    "apparel",
    "beauty",
    "food_beverage",
    "home_living",
    "electronics",
    "mother_baby",
    "sports_outdoor",
    "health",
)
RARE_CATEGORY = "pet_supplies"
"""A favourite category outside ``CATEGORIES`` that appears in a few rows (the `other` bin)."""
SPEND_BOUNDS: tuple[float, float] = (0, 50000)
VISITS_BOUNDS: tuple[int, int] = (0, 120)

BRAND = "brand"
RETAILERS: tuple[str, ...] = ("retailer_a", "retailer_b", "retailer_c")
PARTIES: tuple[str, ...] = (BRAND, *RETAILERS)
BRAND_COLUMNS: tuple[str, ...] = ("customer_id", "email", "phone", "signup_date")
RETAILER_COLUMNS: tuple[str, ...] = (
    "member_id",
    "email",
    "phone",
    "age_band",
    "gender",
    "city_tier",
    "spend_12m",
    "visits_12m",
    "favourite_category",
)

BRAND_OVERLAP: dict[str, float] = {"retailer_a": 0.40, "retailer_b": 0.25, "retailer_c": 0.10}
"""Share of the brand's persons who are also members of each retailer (before invalid rows)."""
_CORE_SHARE = 0.02  # share of the brand's persons who are members of all three retailers
_TIER_AFFINITY = {  # relative chance that a person in each city tier is a member
    "retailer_a": (0.45, 0.3, 0.15, 0.1),
    "retailer_b": (0.25, 0.3, 0.25, 0.2),
    "retailer_c": (0.05, 0.2, 0.4, 0.35),
}
_SPEND_SCALE = {"retailer_a": 1.3, "retailer_b": 1.0, "retailer_c": 0.7}
_DUPLICATE_RATE = 0.01
_MISSING_ATTRIBUTE_RATE = 0.01
_MIN_MEMBERS = 20

_AGE_WEIGHTS = np.array([0.12, 0.3, 0.26, 0.16, 0.1, 0.06])
_GENDER_WEIGHTS = np.array([0.56, 0.38, 0.06])
_TIER_WEIGHTS = np.array([0.22, 0.33, 0.28, 0.17])
_CATEGORY_WEIGHTS = np.array([0.22, 0.16, 0.15, 0.12, 0.1, 0.09, 0.09, 0.07])

_PartyRows = tuple[dict[str, npt.NDArray[Any]], Ints, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]
"""(columns of the file, person id per row, row's email is valid, row's phone is valid)"""


@dataclass(frozen=True)
class DemoDataset:
    """Paths of the generated CSVs and the overlaps the generator knows by construction."""

    paths: dict[str, Path]
    email_persons: dict[str, frozenset[int]]
    phone_persons: dict[str, frozenset[int]]
    rows: dict[str, int]
    population: int
    seed: int

    def truth(self, id_type: Literal["email", "phone"]) -> OverlapTruth:
        """Overlap counts over valid identifiers of ``id_type``, from the person ids."""
        persons = self.email_persons if id_type == "email" else self.phone_persons
        sets: dict[str, frozenset[Hashable]] = dict(persons.items())
        return overlap_truth(sets)


@dataclass(frozen=True)
class _Population:
    """Everything about a person that is the same in every file."""

    email_local: Strings
    email_domain: Strings
    phone: Strings
    age: Ints
    gender: Ints
    tier: Ints
    category: Ints
    spend_level: npt.NDArray[np.float64]


def generate_demo_data(out_dir: Path, members: int = 20_000, seed: int = 7) -> DemoDataset:
    """Write brand.csv and retailer_{a,b,c}.csv under ``out_dir``; same seed, same bytes."""
    if members < _MIN_MEMBERS:
        raise ValueError(f"members must be at least {_MIN_MEMBERS}, got {members}")
    rng = np.random.default_rng(seed)
    population = round(2.5 * members)
    brand_size = round(members / 2)
    people = _draw_population(rng, population)
    order = rng.permutation(population)
    brand_persons, outsiders = order[:brand_size], order[brand_size:]
    core = brand_persons[: max(1, round(_CORE_SHARE * brand_size))]
    rest_of_brand = brand_persons[len(core) :]

    out_dir.mkdir(parents=True, exist_ok=True)
    frames: dict[str, _PartyRows]
    frames = {BRAND: _brand_rows(rng, people, brand_persons)}
    for retailer in RETAILERS:
        weight = np.array(_TIER_AFFINITY[retailer])[people.tier]
        from_brand = max(len(core), round(BRAND_OVERLAP[retailer] * brand_size))
        persons = np.concatenate(
            [
                core,
                _weighted_sample(rng, rest_of_brand, from_brand - len(core), weight),
                _weighted_sample(rng, outsiders, members - from_brand, weight),
            ]
        )
        frames[retailer] = _retailer_rows(rng, people, persons, _SPEND_SCALE[retailer])

    paths: dict[str, Path] = {}
    email_persons: dict[str, frozenset[int]] = {}
    phone_persons: dict[str, frozenset[int]] = {}
    rows: dict[str, int] = {}
    for party, (frame, row_persons, email_ok, phone_ok) in frames.items():
        paths[party] = out_dir / f"{party}.csv"
        _write_csv(paths[party], frame)
        email_persons[party] = frozenset(np.unique(row_persons[email_ok]).tolist())
        phone_persons[party] = frozenset(np.unique(row_persons[phone_ok]).tolist())
        rows[party] = len(row_persons)
    return DemoDataset(paths, email_persons, phone_persons, rows, population, seed)


def _draw_population(rng: np.random.Generator, size: int) -> _Population:
    """Draw each person's identifiers and stable traits."""
    local, domain = draw_emails(rng, size)
    return _Population(
        email_local=local,
        email_domain=domain,
        phone=draw_phones(rng, size),
        age=rng.choice(len(AGE_BANDS), size=size, p=_AGE_WEIGHTS),
        gender=rng.choice(len(GENDERS), size=size, p=_GENDER_WEIGHTS),
        tier=rng.choice(len(CITY_TIERS), size=size, p=_TIER_WEIGHTS),
        category=rng.choice(len(CATEGORIES), size=size, p=_CATEGORY_WEIGHTS),
        spend_level=rng.lognormal(mean=7.5, sigma=1.2, size=size),
    )


def _weighted_sample(
    rng: np.random.Generator, pool: Ints, count: int, weight: npt.NDArray[np.float64]
) -> Ints:
    """``count`` distinct persons from ``pool``, each drawn with chance growing with its weight."""
    keys = rng.exponential(size=len(pool)) / weight[pool]  # Efraimidis-Spirakis, as exponentials
    return pool[np.argpartition(keys, count)[:count]] if count < len(pool) else pool.copy()


def _with_duplicates(rng: np.random.Generator, count: int) -> Ints:
    """Row -> index into the party's persons: each once, a few twice, in shuffled order."""
    extra = rng.choice(count, size=round(_DUPLICATE_RATE * count), replace=False)
    return rng.permutation(np.concatenate([np.arange(count), extra]))


def _write_csv(path: Path, columns: dict[str, npt.NDArray[Any]]) -> None:
    """Write the columns unquoted (no value contains a comma, quote or newline), header first."""
    with path.open("wb") as sink:
        sink.write((",".join(columns) + "\n").encode())
        options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
        pa_csv.write_csv(pa.table(columns), sink, options)


def _ids(prefix: str, count: int) -> Strings:
    return np.strings.add(prefix, np.strings.zfill(np.arange(1, count + 1).astype(str), 8))


def _brand_rows(rng: np.random.Generator, people: _Population, persons: Ints) -> _PartyRows:
    """The brand's CRM list: customer_id, email, phone, signup_date."""
    row_persons = persons[_with_duplicates(rng, len(persons))]
    email, email_ok = messy_emails(
        rng, people.email_local[row_persons], people.email_domain[row_persons]
    )
    phone, phone_ok = messy_phones(rng, people.phone[row_persons])
    first_day = np.datetime64("2015-01-01")
    days = rng.integers(
        0, (np.datetime64("2025-06-30") - first_day).astype(int) + 1, len(row_persons)
    )
    frame: dict[str, npt.NDArray[Any]] = {
        "customer_id": _ids("C", len(row_persons)),
        "email": email,
        "phone": phone,
        "signup_date": (first_day + days).astype(str),
    }
    return frame, row_persons, email_ok, phone_ok


def _retailer_rows(
    rng: np.random.Generator, people: _Population, persons: Ints, spend_scale: float
) -> _PartyRows:
    """A retailer's membership table; traits drift a little and spend/visits are per retailer."""
    n = len(persons)
    age = np.where(
        rng.random(n) < 0.03, rng.choice(len(AGE_BANDS), n, p=_AGE_WEIGHTS), people.age[persons]
    )
    gender = np.where(rng.random(n) < 0.03, GENDERS.index("unknown"), people.gender[persons])
    category = np.where(
        rng.random(n) < 0.15,
        rng.choice(len(CATEGORIES), n, p=_CATEGORY_WEIGHTS),
        people.category[persons],
    )
    age_band = np.array(AGE_BANDS, dtype="U8")[age]
    age_band[rng.random(n) < _MISSING_ATTRIBUTE_RATE] = ""
    favourite = np.array(CATEGORIES, dtype="U32")[category]
    favourite[rng.random(n) < 0.005] = RARE_CATEGORY
    favourite[rng.random(n) < _MISSING_ATTRIBUTE_RATE] = ""
    spend = people.spend_level[persons] * spend_scale * rng.lognormal(0.0, 0.4, n)
    spend = np.where(rng.random(n) < 0.06, 0.0, np.round(spend, 2))
    visits = np.minimum(rng.poisson(np.minimum(90.0, 1.0 + spend / 250.0)), VISITS_BOUNDS[1])

    rows = _with_duplicates(rng, n)
    row_persons = persons[rows]
    email, email_ok = messy_emails(
        rng, people.email_local[row_persons], people.email_domain[row_persons]
    )
    phone, phone_ok = messy_phones(rng, people.phone[row_persons])
    frame: dict[str, npt.NDArray[Any]] = {
        "member_id": _ids("M", len(rows)),
        "email": email,
        "phone": phone,
        "age_band": age_band[rows],
        "gender": np.array(GENDERS)[gender[rows]],
        "city_tier": np.array(CITY_TIERS)[people.tier[row_persons]],
        "spend_12m": spend[rows],
        "visits_12m": visits[rows],
        "favourite_category": favourite[rows],
    }
    return frame, row_persons, email_ok, phone_ok
