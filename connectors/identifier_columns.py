"""Column-at-a-time identifier normalisation, equal value for value to `identifiers.normalise`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from connectors.errors import InvalidIdentifier
from connectors.identifiers import (
    EMAIL_PATTERN,
    GMAIL_DOMAINS,
    HEX64_PATTERN,
    REASON_EMAIL_SYNTAX,
    REASON_EMPTY,
    REASON_HASH_NOT_HEX64,
    REASON_NOT_TEXT,
    ColumnKind,
    IdType,
    NormalisationProfile,
    as_text,
    canonical_gmail,
    check_serves,
    normalise_phone,
    sha256_hex,
)


@dataclass(frozen=True)
class NormalisedColumn:
    """Per-row outcome: `values[i]` is the normalised id or None, `reasons[i]` why not."""

    values: pd.Series  # object: str where valid, None otherwise
    reasons: pd.Series  # object: None where valid, a reason code otherwise


def normalise_column(
    kind: ColumnKind,
    column: pd.Series,
    id_type: IdType,
    profile: NormalisationProfile,
) -> NormalisedColumn:
    """Normalise every cell of `column` as `identifiers.normalise` would, vectorised."""
    check_serves(str(column.name), kind, id_type)
    original_index = column.index
    text, not_text = text_cells(column.reset_index(drop=True))
    reasons = pd.Series(np.full(len(text), None, dtype=object), index=text.index)
    reasons[not_text] = REASON_NOT_TEXT
    reasons[text.isna() & ~not_text] = REASON_EMPTY
    if kind == ColumnKind.EMAIL:
        values = _emails(text, reasons, profile)
    elif kind == ColumnKind.PHONE:
        values = _per_row(text, reasons, lambda t: normalise_phone(t, profile))
    elif kind == ColumnKind.MEMBER_ID:
        values = text.str.strip()
        reasons[_blank(values) & reasons.isna()] = REASON_EMPTY
    else:
        values = text.str.strip().str.lower()
        reasons[_blank(values) & reasons.isna()] = REASON_EMPTY
        bad = ~values.str.fullmatch(HEX64_PATTERN.pattern, na=False).astype(bool)
        reasons[bad & reasons.isna()] = REASON_HASH_NOT_HEX64
    hashed = id_type in (IdType.EMAIL_SHA256, IdType.PHONE_SHA256)
    hashes = hashed and kind in (ColumnKind.EMAIL, ColumnKind.PHONE)
    kept: list[str | None] = [
        (sha256_hex(value) if hashes else value) if reason is None else None
        for value, reason in zip(values.tolist(), reasons.tolist(), strict=True)
    ]
    reasons.index = original_index
    return NormalisedColumn(
        values=pd.Series(kept, index=original_index, dtype=object), reasons=reasons
    )


def text_cells(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Cells as an object Series of str (missing as None), and a mask of non-text cells."""
    index = column.index
    if pd.api.types.is_string_dtype(column.dtype) and not pd.api.types.is_object_dtype(
        column.dtype
    ):
        text = column.astype(object).where(column.notna(), None)
        return text, pd.Series(False, index=index)
    if pd.api.types.is_integer_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        text = column.astype(object).map(lambda v: None if pd.isna(v) else str(int(v)))
        return text, pd.Series(False, index=index)
    cells: list[str | None] = []
    flags: list[bool] = []
    for raw in column.astype(object).tolist():
        try:
            cells.append(as_text(raw))
            flags.append(False)
        except InvalidIdentifier:
            cells.append(None)
            flags.append(True)
    return pd.Series(cells, index=index, dtype=object), pd.Series(flags, index=index, dtype=bool)


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values == "")


def _emails(text: pd.Series, reasons: pd.Series, profile: NormalisationProfile) -> pd.Series:
    values = text.str.lower().str.strip()
    reasons[_blank(values) & reasons.isna()] = REASON_EMPTY
    syntax_ok = values.str.fullmatch(EMAIL_PATTERN.pattern, na=False).astype(bool)
    reasons[~syntax_ok & reasons.isna()] = REASON_EMAIL_SYNTAX
    if profile.gmail_canonical:
        on_gmail = [isinstance(v, str) and v.rpartition("@")[2] in GMAIL_DOMAINS for v in values]
        gmail = pd.Series(on_gmail, index=values.index, dtype=bool) & reasons.isna()
        if gmail.any():
            values = values.copy()
            values[gmail] = _per_row(values[gmail], reasons, canonical_gmail)
    return values


def _per_row(text: pd.Series, reasons: pd.Series, normalise_one: Callable[[str], str]) -> pd.Series:
    out: list[str | None] = []
    for label, cell in zip(text.index, text.tolist(), strict=True):
        if cell is None or reasons[label] is not None:
            out.append(None)
            continue
        try:
            out.append(normalise_one(cell))
        except InvalidIdentifier as invalid:
            reasons[label] = invalid.reason
            out.append(None)
    return pd.Series(out, index=text.index, dtype=object)
