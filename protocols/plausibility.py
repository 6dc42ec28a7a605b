"""The querier's check on decrypted profile aggregates before any of them leaves its node.

A coordinator that deviates can encrypt indicators other than 0/1 (say Enc(2^(128 s)) for the
member at position s) so that one decrypted cell packs every member's value. The querier's node
refuses to let such a cell out: each owner's cells must lie within what 0/1 indicators over at
most min(|Q|, |D|) members can produce, widened by the owner's noise bound:

- the overlap, each categorical bin and each numeric count within [-B_1, min(|Q|, |D|) + B_1];
- a numeric sum within [-B_s, c * max_encoded + B_s], a sum of squares within
  [-B_q, c * max_encoded^2 + B_q], where c = min(|Q|, |D|, count + B_1) uses that attribute's
  decrypted count and B_1, B_s, B_q are the owner's noise bounds for sensitivity 1,
  max_encoded and max_encoded^2;
- a combined aggregate must decrypt to exactly the sum of the named owners' cells already
  decrypted (so it reveals nothing they did not);
- each owner's aggregate is decrypted once per query, the combined one once.

For a profile of the owner's members outside the querier's set (`prospects`) or of its whole
base (`base`), the coordinator encrypts Enc(1) for non-matches (or every member), so the cap is
|D| instead of min(|Q|, |D|), further capped by `audience_ceiling`, the largest owner set the
querier accepts (its policy's max_set_size).

|Q| is the querier's own session size; |D|, the owner's epsilon and specs come with the owner's
aggregate, signed by the owner over the query (node/owner_terms.py), so the coordinator cannot
change them; an epsilon below ``MIN_EPSILON`` is refused. So no cell decrypts to a packed per-member
vector, and each owner's aggregate is decrypted once per query; integer weights on members stay
possible (see README "Who learns what"). What leaves the querier's node is only what the release
rules release (node/profile_release.py).
B is the discrete Laplace tail bound: Pr[|noise| > B] <= 2^-NOISE_TAIL_BITS per cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from protocols.noise import laplace_scale_for
from protocols.paillier_attributes import Attribute, CategoricalAttribute

NOISE_TAIL_BITS = 40
MIN_EPSILON = 0.001
OVERLAP = ("", "overlap")
NUMERIC_CELLS = ("count", "sum", "sum_sq")

Cell = tuple[str, str]


class ImplausibleAggregate(ValueError):
    """Decrypted cells that 0/1 indicators could not have produced (names owner and cell)."""


@dataclass(frozen=True)
class OwnerTerms:
    """One owner's terms for a query: its list size, its noise epsilon (0: none) and its k.

    The owner signs them with its aggregate; the querier's node checks that signature
    (node/owner_terms.py) before this check and the release rules use them."""

    party: str
    set_size: int
    epsilon: float
    min_cohort: int = 0


def cell_names(specs: Sequence[Attribute]) -> list[Cell]:
    """The cells of an aggregate in ciphertext order: overlap, then each attribute's."""
    names = [OVERLAP]
    for spec in specs:
        cells = spec.bins if isinstance(spec, CategoricalAttribute) else NUMERIC_CELLS
        names.extend((spec.name, cell) for cell in cells)
    return names


def noise_bound(epsilon: float, statistics: int, sensitivity: int) -> int:
    """B with Pr[|Z| > B] <= 2^-NOISE_TAIL_BITS for the owner's discrete Laplace noise Z.

    The owner splits epsilon over `statistics` cells (``protocols.owner_noise``); with
    q = exp(-1/scale), Pr[|Z| >= t] = 2 q^t / (1 + q) <= 2 q^t, so t = scale * ln 2 * (bits + 1).
    """
    if epsilon == 0:
        return 0
    scale = laplace_scale_for(epsilon / statistics, max(1, sensitivity))
    return math.ceil(scale * Fraction(math.log(2)) * (NOISE_TAIL_BITS + 1))


def _statistics(specs: Sequence[Attribute]) -> int:
    return 1 + sum(1 if isinstance(s, CategoricalAttribute) else 3 for s in specs)


@dataclass
class DecryptionTally:
    """One query's decryptions at the querier's node: each owner's cells, once; combined once."""

    querier_size: int
    audience_ceiling: int | None = None  # set for prospects/base: cap |D| at this, not |Q|
    owners: dict[str, dict[Cell, int]] = field(default_factory=dict)
    specs: dict[str, tuple[Attribute, ...]] = field(default_factory=dict)
    combined: bool = False
    refused: bool = False

    def check_owner(
        self,
        terms: OwnerTerms,
        specs: Sequence[Attribute],
        names: Sequence[Cell],
        values: Sequence[int],
    ) -> None:
        """Raise ``ImplausibleAggregate`` unless one owner's cells are plausible; record them."""
        owner = terms.party
        if owner in self.owners:
            raise ImplausibleAggregate(f"the aggregate of owner {owner!r} was already decrypted")
        _same_cells(owner, specs, names)
        if terms.epsilon < 0 or 0 < terms.epsilon < MIN_EPSILON:
            raise ImplausibleAggregate(
                f"owner {owner!r}: epsilon {terms.epsilon} is below the floor {MIN_EPSILON}"
            )
        cells = dict(zip(names, values, strict=True))
        limit = self.querier_size if self.audience_ceiling is None else self.audience_ceiling
        cap = min(limit, max(0, terms.set_size))
        statistics = _statistics(specs)
        b1 = noise_bound(terms.epsilon, statistics, 1)
        _within(owner, OVERLAP, cells[OVERLAP], -b1, cap + b1)
        for spec in specs:
            if isinstance(spec, CategoricalAttribute):
                for bin_name in spec.bins:
                    _within(owner, (spec.name, bin_name), cells[spec.name, bin_name], -b1, cap + b1)
                continue
            count = cells[spec.name, "count"]
            _within(owner, (spec.name, "count"), count, -b1, cap + b1)
            present = max(0, min(cap, count + b1))
            top = max(1, spec.max_encoded)
            b_sum = noise_bound(terms.epsilon, statistics, top)
            b_square = noise_bound(terms.epsilon, statistics, top * top)
            _within(
                owner, (spec.name, "sum"), cells[spec.name, "sum"], -b_sum, present * top + b_sum
            )
            _within(
                owner,
                (spec.name, "sum_sq"),
                cells[spec.name, "sum_sq"],
                -b_square,
                present * top * top + b_square,
            )
        self.owners[owner] = cells
        self.specs[owner] = tuple(specs)

    def check_combined(
        self,
        owners: Sequence[str],
        specs: Sequence[Attribute],
        names: Sequence[Cell],
        values: Sequence[int],
    ) -> None:
        """Raise unless the combined cells are exactly the sum of the named owners' cells."""
        if self.combined:
            raise ImplausibleAggregate("the combined aggregate was already decrypted")
        missing = [o for o in owners if o not in self.owners]
        if len(set(owners)) != len(owners) or len(owners) < 2 or missing:
            raise ImplausibleAggregate(
                f"a combined aggregate must name two or more distinct owners already decrypted; "
                f"got {list(owners)}"
            )
        _same_cells("combined", specs, names)
        for spec in specs:
            for owner in owners:
                if spec not in self.specs[owner]:
                    raise ImplausibleAggregate(
                        f"combined attribute {spec.name!r} is not declared that way by {owner!r}"
                    )
        for name, value in zip(names, values, strict=True):
            if value != sum(self.owners[o][name] for o in owners):
                raise ImplausibleAggregate(
                    f"combined cell {_label(name)} is not the sum of the owners' cells"
                )
        self.combined = True


def _same_cells(owner: str, specs: Sequence[Attribute], names: Sequence[Cell]) -> None:
    if list(names) != cell_names(specs):
        raise ImplausibleAggregate(
            f"the cells sent for owner {owner!r} are not those its declared attributes produce"
        )


def _label(cell: Cell) -> str:
    return cell[1] if not cell[0] else f"{cell[0]}/{cell[1]}"


def _within(owner: str, cell: Cell, value: int, low: int, high: int) -> None:
    """The message names owner, cell and window, never the value (the coordinator reads it)."""
    if not low <= value <= high:
        raise ImplausibleAggregate(
            f"owner {owner!r} cell {_label(cell)} decrypts outside its plausible range "
            f"[{low}, {high}] (0/1 indicators over at most min(|Q|, |D|) members plus noise)"
        )


__all__ = [
    "DecryptionTally",
    "ImplausibleAggregate",
    "OwnerTerms",
    "cell_names",
    "noise_bound",
]
