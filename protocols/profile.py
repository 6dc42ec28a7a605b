"""Owner-side profile aggregation over encrypted overlap indicators (DESIGN 3.3).

The data owner D receives one ciphertext per position of its list, Enc_Q(1) for an overlap
member and Enc_Q(0) otherwise, and computes, without reading them:
- the overlap count: the product of all indicators;
- per categorical attribute, one ciphertext per bin: the product of the indicators of the rows
  in that bin (bins are the declared domain plus ``other`` for unknown and missing values);
- per numeric attribute, over rows that have a value: the count, the sum and the sum of squares
  of the fixed-point encoded, clipped values (prod c_j, prod c_j^v_j, prod c_j^(v_j^2)).

Rows are first grouped by bin / encoded value (one multiplication per row); numeric sums are
then multi-exponentiations over the distinct values (``protocols.multiexp``). Each output
ciphertext is rerandomised with a fresh mask before it leaves (``seal_aggregate``).

Leakage: the aggregate ciphertexts reveal nothing to D or C (semantic security under Q's key);
Q learns exactly the aggregates declared, plus whatever noise D adds with ``add_plain`` before
sealing (the DP hook). Row ranges can be aggregated separately (``aggregate_rows`` in a worker)
and merged with ``combine_aggregates`` before sealing. The parties that run these steps, in the
node and in the oracle tests alike, are in ``protocols.profile_parties``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import gmpy2

from protocols.masks import MaskPool
from protocols.multiexp import bucket_products, marginal_products, multi_exp, product_mod
from protocols.paillier import (
    PaillierPublicKey,
    check_ciphertexts,
    rerandomise,
)
from protocols.paillier_attributes import (
    OTHER_BIN,
    Attribute,
    AttributeDeclarationError,
    CategoricalAttribute,
    InvalidAttributeValue,
    NumericAttribute,
)

__all__ = [
    "OTHER_BIN",
    "Attribute",
    "AttributeAggregate",
    "AttributeDeclarationError",
    "AttributeMismatch",
    "CategoricalAttribute",
    "DecodedProfile",
    "InvalidAttributeValue",
    "MissingAttributeValues",
    "NumericAttribute",
    "NumericMoments",
    "OwnerAggregate",
    "PlaintextOverflow",
    "aggregate_rows",
    "check_requested",
    "ciphertext_count",
    "combine_aggregates",
    "decode_cells",
    "seal_aggregate",
]


class AttributeMismatch(ValueError):
    """Aggregates or specs declare different attributes, or belong to different keys."""


class MissingAttributeValues(ValueError):
    """A declared attribute has no column, or a column's length differs from the indicators."""


class PlaintextOverflow(ValueError):
    """An aggregate could exceed n/2 and wrap around the plaintext space."""


@dataclass(frozen=True)
class AttributeAggregate:
    """Ciphertexts for one attribute: one per bin (categorical) or (count, sum, sum_sq)."""

    attribute: Attribute
    ciphertexts: tuple[int, ...]


@dataclass(frozen=True)
class OwnerAggregate:
    """What an owner returns: plain ints and bytes, bound to the querier's key by fingerprint.

    ``rows`` is the number of list positions aggregated (C knows it already); ``sealed`` is true
    once every ciphertext has been rerandomised with a fresh mask.
    """

    key_fingerprint: bytes
    rows: int
    overlap: int
    attributes: tuple[AttributeAggregate, ...]
    sealed: bool = False

    def ciphertexts(self) -> list[int]:
        """All ciphertexts in a fixed order: overlap, then each attribute's in declared order."""
        out = [self.overlap]
        for item in self.attributes:
            out.extend(item.ciphertexts)
        return out

    def with_ciphertexts(self, ciphertexts: Sequence[int], *, sealed: bool) -> OwnerAggregate:
        """The same shape with new ciphertexts in ``ciphertexts()`` order."""
        if len(ciphertexts) != ciphertext_count(item.attribute for item in self.attributes):
            raise ValueError(f"aggregate needs {len(self.ciphertexts())} ciphertexts")
        position = 1
        attributes = []
        for item in self.attributes:
            width = len(item.ciphertexts)
            chunk = tuple(int(c) for c in ciphertexts[position : position + width])
            attributes.append(AttributeAggregate(item.attribute, chunk))
            position += width
        return replace(
            self, overlap=int(ciphertexts[0]), attributes=tuple(attributes), sealed=sealed
        )


def ciphertext_count(specs: Iterable[Attribute]) -> int:
    """Ciphertexts in an aggregate for these specs (the masks ``seal_aggregate`` consumes)."""
    total = 1
    for spec in specs:
        total += len(spec.bins) if isinstance(spec, CategoricalAttribute) else 3
    return total


def _check_specs(specs: Sequence[Attribute]) -> None:
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AttributeDeclarationError(f"attribute declared more than once: {duplicates}")


def _check_capacity(public_key: PaillierPublicKey, rows: int, specs: Sequence[Attribute]) -> None:
    for spec in specs:
        if isinstance(spec, NumericAttribute):
            bound = rows * spec.max_encoded**2
            if bound > public_key.max_signed:
                raise PlaintextOverflow(
                    f"attribute {spec.name!r}: sum of squares over {rows} rows may reach "
                    f"{bound.bit_length()} bits, more than the {public_key.bits - 1}-bit "
                    "signed plaintext space; lower the scale or the bounds"
                )


def aggregate_rows(
    public_key: PaillierPublicKey,
    indicators: Sequence[int],
    values: Mapping[str, Iterable[object]],
    specs: Sequence[Attribute],
) -> OwnerAggregate:
    """Aggregate one row range, unsealed: the unit of work for a process-pool worker.

    ``values[name]`` holds the attribute's values for the same rows as ``indicators``, in the
    same order. Merge partial results with ``combine_aggregates``, then ``seal_aggregate``.
    """
    _check_specs(specs)
    _check_capacity(public_key, len(indicators), specs)
    n_square = public_key.n_square
    bases = [gmpy2.mpz(c) for c in indicators]
    overlap: Any = None
    results: list[AttributeAggregate] = []
    for spec in specs:
        if spec.name not in values:
            raise MissingAttributeValues(f"no values supplied for attribute {spec.name!r}")
    categorical = [spec for spec in specs if isinstance(spec, CategoricalAttribute)]
    columns = []
    for spec in categorical:
        codes = spec.encode(values[spec.name])
        _check_length(spec, len(codes), len(bases))
        columns.append(codes)
    bin_products = dict(zip(categorical, marginal_products(bases, columns, n_square), strict=True))
    for spec in specs:
        if isinstance(spec, CategoricalAttribute):
            groups = bin_products[spec]
            bins = tuple(int(groups.get(index, 1)) for index in range(len(spec.bins)))
            if overlap is None:  # every row falls in exactly one bin
                overlap = product_mod(bins, n_square)
            results.append(AttributeAggregate(spec, bins))
        else:
            encoded = spec.encode(values[spec.name])
            _check_length(spec, len(encoded), len(bases))
            groups = bucket_products(bases, encoded, n_square)
            groups.pop(-1, None)  # missing values are skipped
            distinct = list(groups)
            products = list(groups.values())
            ciphertexts = (
                product_mod(products, n_square),
                multi_exp(products, distinct, n_square),
                multi_exp(products, [v * v for v in distinct], n_square),
            )
            results.append(AttributeAggregate(spec, ciphertexts))
    if overlap is None:
        overlap = product_mod(bases, n_square)
    return OwnerAggregate(
        key_fingerprint=public_key.fingerprint(),
        rows=len(indicators),
        overlap=int(overlap),
        attributes=tuple(results),
    )


def _check_length(spec: Attribute, got: int, expected: int) -> None:
    if got != expected:
        raise MissingAttributeValues(
            f"attribute {spec.name!r} has {got} values for {expected} indicators"
        )


def seal_aggregate(
    public_key: PaillierPublicKey, aggregate: OwnerAggregate, masks: MaskPool | Sequence[int]
) -> OwnerAggregate:
    """Rerandomise every ciphertext with a fresh mask (exactly ``ciphertext_count`` masks)."""
    ciphertexts = aggregate.ciphertexts()
    if isinstance(masks, MaskPool):
        if masks.public_key != public_key:
            raise AttributeMismatch("mask pool belongs to a different Paillier key")
        fresh = masks.take(len(ciphertexts))
    else:
        fresh = list(masks)
        if len(fresh) != len(ciphertexts):
            raise ValueError(f"sealing needs {len(ciphertexts)} masks, got {len(fresh)}")
    sealed = [rerandomise(public_key, c, r) for c, r in zip(ciphertexts, fresh, strict=True)]
    return aggregate.with_ciphertexts(sealed, sealed=True)


def combine_aggregates(
    public_key: PaillierPublicKey, aggregates: Sequence[OwnerAggregate]
) -> OwnerAggregate:
    """Homomorphic sum of aggregates (row-range partials, or owners sharing a schema).

    All aggregates must be bound to ``public_key`` and declare identical attributes in the same
    order; ciphertexts are range- and unit-checked. The result is sealed if any input was
    (multiplying by one freshly randomised ciphertext randomises the product).
    """
    if not aggregates:
        raise ValueError("combine_aggregates needs at least one aggregate")
    first = aggregates[0]
    declared = tuple(item.attribute for item in first.attributes)
    for index, aggregate in enumerate(aggregates):
        if aggregate.key_fingerprint != public_key.fingerprint():
            raise AttributeMismatch(f"aggregate {index} was encrypted against a different key")
        other = tuple(item.attribute for item in aggregate.attributes)
        if other != declared:
            raise AttributeMismatch(_describe_mismatch(declared, other, index))
        check_ciphertexts(public_key, aggregate.ciphertexts(), aggregate.key_fingerprint)
    rows = sum(aggregate.rows for aggregate in aggregates)
    _check_capacity(public_key, rows, declared)
    columns = zip(*(aggregate.ciphertexts() for aggregate in aggregates), strict=True)
    summed = [product_mod(column, public_key.n_square) for column in columns]
    combined = replace(first, rows=rows)
    return combined.with_ciphertexts(summed, sealed=any(a.sealed for a in aggregates))


def _describe_mismatch(
    declared: tuple[Attribute, ...],
    other: tuple[Attribute, ...],
    index: int,
    reference: str = "aggregate 0",
) -> str:
    subject = f"aggregate {index}" if index >= 0 else "the aggregate"
    by_name = {spec.name: spec for spec in declared}
    for spec in other:
        if spec.name not in by_name:
            return f"{subject} has attribute {spec.name!r} that {reference} lacks"
        if by_name[spec.name] != spec:
            return (
                f"attribute {spec.name!r} is declared differently: {reference} has "
                f"{by_name[spec.name]!r}, {subject} has {spec!r}"
            )
    missing = sorted(set(by_name) - {spec.name for spec in other})
    if missing:
        return f"{subject} lacks attributes {missing}"
    return f"{subject} declares the same attributes in a different order"


@dataclass(frozen=True)
class NumericMoments:
    """Decrypted numeric aggregate in the attribute's units; exact until ``mean``/``std``.

    ``mean`` and ``std`` (population) are None when ``count`` <= 0 (possible once noise is
    added); a negative variance caused by noise is reported as std 0.
    """

    count: int
    sum: Fraction
    sum_of_squares: Fraction
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class DecodedProfile:
    """A profile decoded from exact cells (the oracle's form): overlap, bins, numeric moments."""

    overlap: int
    categorical: dict[str, dict[str, int]]
    numeric: dict[str, NumericMoments]


def _summarise(spec: NumericAttribute, count: int, total: int, squares: int) -> NumericMoments:
    scale, offset = spec.scale, spec.offset
    value_sum = Fraction(total + count * offset, scale)
    square_sum = Fraction(squares + 2 * offset * total + count * offset * offset, scale * scale)
    if count <= 0:
        return NumericMoments(count, value_sum, square_sum, None, None)
    # Variance from the shifted encoding (shift-invariant), exact in rationals.
    variance = Fraction(squares, count) - Fraction(total, count) ** 2
    std = math.sqrt(float(max(variance, Fraction(0)))) / scale
    return NumericMoments(count, value_sum, square_sum, float(value_sum / count), std)


def decode_numeric(spec: NumericAttribute, count: int, total: int, squares: int) -> NumericMoments:
    """Undo the fixed-point encoding of decrypted (count, sum, sum of squares) cells."""
    return _summarise(spec, count, total, squares)


def check_requested(aggregate: OwnerAggregate, specs: Sequence[Attribute]) -> None:
    """Refuse an aggregate that does not declare exactly the attributes asked for, in order."""
    declared = tuple(item.attribute for item in aggregate.attributes)
    if declared != tuple(specs):
        raise AttributeMismatch(_describe_mismatch(tuple(specs), declared, -1, "the request"))


def decode_cells(specs: tuple[Attribute, ...], plain: Sequence[int]) -> DecodedProfile:
    """Undo the encodings of decrypted cells (overlap first, then each attribute's in order)."""
    categorical: dict[str, dict[str, int]] = {}
    numeric: dict[str, NumericMoments] = {}
    position = 1
    for spec in specs:
        if isinstance(spec, CategoricalAttribute):
            width = len(spec.bins)
            cells = plain[position : position + width]
            categorical[spec.name] = dict(zip(spec.bins, cells, strict=True))
        else:
            width = 3
            count, total, squares = plain[position : position + width]
            numeric[spec.name] = _summarise(spec, count, total, squares)
        position += width
    if position != len(plain):
        raise AttributeMismatch(f"{len(plain)} cells for attributes that have {position}")
    return DecodedProfile(overlap=plain[0], categorical=categorical, numeric=numeric)
