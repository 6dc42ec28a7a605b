"""Issue 11 attacks #4 and #5: a modified brand node that keeps what it decrypts, and aborts.

The brand's node is the querier's own: it decrypts the owners' aggregate cells before any
release rule applies. Owners therefore noise every cell under encryption before it leaves them;
what the brand's node reads about a single target is then no better than the DP bound, and a
node that aborts after decrypting has still paid: the budget and the daily count are charged
when the owner's noised aggregate leaves it.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from client.sdk import QueryError
from tests.privacy.conftest import (
    AGE_BANDS,
    BRAND,
    EPSILON,
    RETAILER_A,
    Arena,
    age_band,
    invented,
    retailer_people,
    slack,
)

pytestmark = pytest.mark.slow


class Aborted(RuntimeError):
    """The modified brand node walks away after reading its decryptions."""


@contextmanager
def keeping_decryptions(arena: Arena, abort: bool = False) -> Iterator[list[list[int]]]:
    """Replace the brand node's decryption with one that keeps every plaintext (and, with
    `abort`, fails the query right after), as a brand that modified its own node would."""
    decryption = arena.nodes[BRAND].service.decryption
    assert decryption is not None
    honest: Callable[..., list[int]] = decryption.decrypt
    kept: list[list[int]] = []

    def keep(*args: Any, **kwargs: Any) -> list[int]:
        values = honest(*args, **kwargs)
        kept.append(list(values))
        if abort:
            raise Aborted("the brand's node keeps the plaintexts and aborts")
        return values

    decryption.decrypt = keep  # type: ignore[method-assign]
    try:
        yield kept
    finally:
        decryption.decrypt = honest  # type: ignore[method-assign]


def _profile(arena: Arena) -> None:
    with arena.client() as client:
        client.profile(BRAND, [RETAILER_A], ["age_band"], id_type="email")


def _profile_of_one(arena: Arena, trials: int, seed: int) -> float:
    """Attack #4: target plus 99 invented emails; read the target's age band off the bins."""
    rng = random.Random(seed)
    members = retailer_people()[RETAILER_A]
    right = 0
    for trial in range(trials):
        target = rng.choice(members)
        arena.brand_list([target], invented(99, f"one{seed}-{trial}"))
        # the release may be refused; the brand's node has decrypted by then
        with keeping_decryptions(arena) as kept, contextlib.suppress(QueryError):
            _profile(arena)
        assert kept, "the brand's node decrypted nothing"
        cells = kept[0]
        bins = cells[1 : 1 + len(AGE_BANDS)]  # overlap, then the age bands in declared order
        guess = AGE_BANDS[max(range(len(bins)), key=lambda i: bins[i])]
        right += guess == age_band(target)
    return right / trials


def test_the_brand_node_reads_only_noise_about_one_person(noised: Arena) -> None:
    trials = 24
    rate = _profile_of_one(noised, trials, seed=51)
    # four bins; the histogram gets a share of the owner's epsilon, at most all of it, and
    # moving the target between two bins is two changes (2 x epsilon) at the very most
    e = math.exp(2 * EPSILON)
    bound = e / (e + 3)
    limit = bound + slack(trials, bound)
    assert rate <= limit, f"the target's age band was read in {rate:.0%} of trials (> {limit:.0%})"


def test_the_brand_node_reads_one_person_in_exact_mode(exact: Arena) -> None:
    """The control: against an owner that opted into exact answers, the brand's own node reads
    a single member's bin exactly (README: what exact mode does not protect against)."""
    assert _profile_of_one(exact, 3, seed=52) == 1.0


def test_aborting_after_decryption_is_charged_and_counted(noised: Arena) -> None:
    """Attack #5: a brand node that fails right after decrypting used to get the query
    refunded; now each such query costs epsilon and counts toward queries_per_day."""
    ledger = noised.nodes[RETAILER_A].service.governance.ledger
    assert ledger is not None
    before = ledger.usage(BRAND)
    noised.brand_list(list(range(0, 400, 2)))
    aborted = 3
    for _ in range(aborted):
        with keeping_decryptions(noised, abort=True) as kept, pytest.raises(QueryError):
            _profile(noised)
        assert kept, "the brand's node decrypted before aborting"
    after = ledger.usage(BRAND)
    assert after.queries_today - before.queries_today == aborted
    assert after.spent - before.spent == pytest.approx(aborted * EPSILON)
