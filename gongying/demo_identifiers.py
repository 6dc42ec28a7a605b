"""Demo identifiers: a distinct email and mobile number per person, and messy spellings of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

Strings = npt.NDArray[np.str_]
Ints = npt.NDArray[np.int64]

_INVALID_EMAIL_RATE = 0.004
_INVALID_PHONE_RATE = 0.004
_MISSING_PHONE_RATE = 0.05

_SURNAMES = np.array(
    [
        "wang",
        "li",
        "zhang",
        "liu",
        "chen",
        "yang",
        "huang",
        "zhao",
        "wu",
        "zhou",
        "xu",
        "sun",
        "ma",
        "zhu",
        "hu",
        "guo",
        "he",
        "lin",
        "gao",
        "luo",
        "zheng",
        "liang",
        "xie",
        "song",
        "tang",
        "han",
        "feng",
        "deng",
        "cao",
        "peng",
        "zeng",
        "xiao",
        "tian",
        "dong",
        "pan",
        "yuan",
        "cai",
        "jiang",
    ]
)
_GIVEN = np.array(
    [
        "wei",
        "fang",
        "na",
        "min",
        "jing",
        "li",
        "qiang",
        "lei",
        "jun",
        "yang",
        "yong",
        "yan",
        "jie",
        "tao",
        "ming",
        "chao",
        "xiu",
        "xia",
        "ping",
        "gang",
        "hui",
        "hua",
        "yu",
        "xin",
        "hao",
        "yi",
        "ting",
        "ying",
        "lan",
        "bo",
        "peng",
        "zhen",
        "lin",
        "jian",
        "dan",
        "xue",
        "mei",
        "qing",
        "kai",
        "rui",
    ]
)
_DOMAINS = np.array(
    ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com"]
)
_DOMAIN_WEIGHTS = np.array([0.36, 0.2, 0.1, 0.1, 0.1, 0.07, 0.07])
_MOBILE_PREFIXES = np.array(
    [*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 176, 177, *range(180, 190)]
)


def draw_emails(rng: np.random.Generator, size: int) -> tuple[Strings, Strings]:
    """Pinyin-like local parts (or QQ numbers at qq.com), unique per person after lower-casing."""
    add = np.strings.add
    surname = _SURNAMES[rng.integers(0, len(_SURNAMES), size)]
    given = _GIVEN[rng.integers(0, len(_GIVEN), size)].astype("U12")
    two_syllables = rng.random(size) < 0.5
    given[two_syllables] = add(
        given[two_syllables], _GIVEN[rng.integers(0, len(_GIVEN), int(two_syllables.sum()))]
    )
    domain = _DOMAINS[rng.choice(len(_DOMAINS), size=size, p=_DOMAIN_WEIGHTS)]
    qq_number = (domain == "qq.com") & (rng.random(size) < 0.5)
    style = np.where(qq_number, 4, rng.integers(0, 4, size))
    local = _compose(
        style,
        [
            lambda i: add(add(surname[i], given[i]), rng.integers(1965, 2006, len(i)).astype(str)),
            lambda i: add(add(given[i], "."), surname[i]),
            lambda i: add(add(surname[i], "_"), given[i]),
            lambda i: add(add(surname[i], given[i]), rng.integers(10, 100, len(i)).astype(str)),
            lambda i: rng.integers(10_000, 3_000_000_000, len(i)).astype(str),
        ],
    )
    local = local.astype(f"U{local.dtype.itemsize // 4 + 20}")
    for _ in range(20):
        undotted = np.strings.replace(local, ".", "")  # unique under gmail's dot rule too
        taken = pd.Series(add(add(undotted, "@"), domain)).duplicated().to_numpy()
        if not taken.any():
            return local, domain
        local[taken] = add(local[taken], rng.integers(10, 1000, int(taken.sum())).astype(str))
    raise RuntimeError("could not make demo emails unique")  # unreachable in practice


def _compose(choice: Ints, variants: Sequence[Callable[[Ints], Strings]]) -> Strings:
    """Row r gets ``variants[choice[r]]``, each variant evaluated only on the rows choosing it."""
    parts = [(rows, variant(rows)) for rows, variant in _rows_per_choice(choice, variants)]
    width = max(values.dtype.itemsize // 4 for _, values in parts)
    out = np.empty(len(choice), dtype=f"<U{max(width, 1)}")
    for rows, values in parts:
        out[rows] = values
    return out


def _rows_per_choice(
    choice: Ints, variants: Sequence[Callable[[Ints], Strings]]
) -> list[tuple[Ints, Callable[[Ints], Strings]]]:
    return [(np.flatnonzero(choice == k), variant) for k, variant in enumerate(variants)]


def draw_phones(rng: np.random.Generator, size: int) -> Strings:
    """Distinct valid mainland mobile numbers, 11 digits each."""
    prefix = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), size)].astype(np.int64)
    numbers = prefix * 100_000_000 + rng.integers(0, 100_000_000, size)
    for _ in range(20):
        taken = pd.Series(numbers).duplicated().to_numpy()
        if not taken.any():
            return numbers.astype(str)
        numbers[taken] = prefix[taken] * 100_000_000 + rng.integers(0, 100_000_000, taken.sum())
    raise RuntimeError("could not make demo phone numbers unique")  # unreachable in practice


def messy_emails(
    rng: np.random.Generator, local: Strings, domain: Strings
) -> tuple[Strings, npt.NDArray[np.bool_]]:
    """Emails with random case and padding, a few made invalid; returns (values, valid)."""
    add, upper, n = np.strings.add, np.strings.upper, len(local)
    case = rng.choice(4, size=n, p=[0.7, 0.14, 0.08, 0.08])
    cased = _compose(
        case,
        [
            lambda i: add(add(local[i], "@"), domain[i]),
            lambda i: add(add(np.strings.capitalize(local[i]), "@"), domain[i]),
            lambda i: upper(add(add(local[i], "@"), domain[i])),
            lambda i: add(add(local[i], "@"), upper(domain[i])),
        ],
    )
    invalid = rng.random(n) < _INVALID_EMAIL_RATE
    look = np.where(
        invalid, 4 + rng.integers(0, 3, n), rng.choice(4, n, p=[0.85, 0.05, 0.05, 0.05])
    )
    shown = _compose(
        look,
        [
            lambda i: cased[i],
            lambda i: add(" ", cased[i]),
            lambda i: add(cased[i], "  "),
            lambda i: add(add("  ", cased[i]), " "),
            lambda i: add(local[i], domain[i]),
            lambda i: add("@", domain[i]),
            lambda i: add(local[i], "@"),
        ],
    )
    return shown, ~invalid


def messy_phones(rng: np.random.Generator, phone: Strings) -> tuple[Strings, npt.NDArray[np.bool_]]:
    """One mobile number per row in one of several formats, a few empty or invalid."""
    add, part, n = np.strings.add, np.strings.slice, len(phone)

    def grouped(rows: Ints, sep: str) -> Strings:
        digits = phone[rows]
        head, mid, tail = part(digits, 0, 3), part(digits, 3, 7), part(digits, 7, 11)
        return add(add(add(add(head, sep), mid), sep), tail)

    missing = rng.random(n) < _MISSING_PHONE_RATE
    invalid = ~missing & (rng.random(n) < _INVALID_PHONE_RATE)
    style = rng.choice(7, size=n, p=[0.45, 0.12, 0.1, 0.08, 0.08, 0.1, 0.07])
    style = np.where(missing, 7, np.where(invalid, 8 + rng.integers(0, 2, n), style))
    shown = _compose(
        style,
        [
            lambda i: phone[i],
            lambda i: grouped(i, " "),
            lambda i: add("+86 ", grouped(i, "-")),
            lambda i: add("0086 ", phone[i]),
            lambda i: add("(+86) ", phone[i]),
            lambda i: add("+86", phone[i]),
            lambda i: grouped(i, "-"),
            lambda i: np.full(len(i), "", dtype="U1"),
            lambda i: part(phone[i], 0, 10),
            lambda i: add(phone[i], rng.integers(0, 10, len(i)).astype(str)),
        ],
    )
    return shown, ~(missing | invalid)
