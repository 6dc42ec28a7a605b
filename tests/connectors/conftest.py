"""Generated member tables shared by the connector tests."""

from __future__ import annotations

import random

import pandas as pd
import pytest


def member_frame(rows: int, seed: int) -> pd.DataFrame:
    """Messy members: case/padding variants, duplicates, blanks and malformed emails."""
    rng = random.Random(seed)
    emails: list[str | None] = []
    for _ in range(rows):
        n = rng.randrange(rows // 2 + 1)
        pick = rng.random()
        if pick < 0.05:
            emails.append(None)
        elif pick < 0.1:
            emails.append(f"broken{n}.example.com")
        else:
            email = f"User{n}@Shop{n % 7}.com"
            emails.append(" " + email.upper() if pick < 0.3 else email)
    return pd.DataFrame(
        {
            "email": emails,
            "member_no": [f"M{rng.randrange(rows):06d}" for _ in range(rows)],
            "city": [rng.choice(["Shanghai", "北京", "Shenzhen", None]) for _ in range(rows)],
        }
    )


def email_oracle(frame: pd.DataFrame) -> tuple[list[bytes], list[object]]:
    """Independent pandas computation of distinct email elements and their first city."""
    cleaned = frame.assign(key=frame["email"].str.lower().str.strip())
    valid = cleaned[cleaned["key"].str.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+", na=False)]
    first = valid.drop_duplicates("key", keep="first")
    cities = [None if pd.isna(c) else c for c in first["city"].tolist()]
    return [f"email:{k}".encode() for k in first["key"]], cities


@pytest.fixture
def members() -> pd.DataFrame:
    return member_frame(400, seed=7)
