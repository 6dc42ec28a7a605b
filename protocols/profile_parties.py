"""The owner and the querier of a profile query as state objects (DESIGN 3.3), as nodes run them.

`ProfileOwner` aggregates an owner's rows against the querier's encrypted indicators: it splits
the indicator stream into `IndicatorChunk`s (the unit a worker process runs), then combines the
partial aggregates, adds the owner's noise and seals the result. `ProfileQuerier` holds the
querier's key pair and decrypts aggregates. The node's steps (node/profile_steps.py,
node/decryption.py) and the oracle tests call these same objects; the functions of
`protocols.profile` are their arithmetic. Security and leakage: see `protocols.profile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from protocols.masks import MaskPool
from protocols.owner_noise import noised_aggregate
from protocols.paillier import (
    InvalidCiphertext,
    PaillierPrivateKey,
    PaillierPublicKey,
    check_ciphertexts,
)
from protocols.paillier_attributes import Attribute
from protocols.profile import (
    DecodedProfile,
    MissingAttributeValues,
    OwnerAggregate,
    aggregate_rows,
    check_requested,
    combine_aggregates,
    decode_cells,
    seal_aggregate,
)


@dataclass(frozen=True)
class IndicatorChunk:
    """Consecutive indicator ciphertexts and the owner's values at the same list positions.

    ``ciphertexts`` are fixed-width big-endian, concatenated as they arrived; ``values[name]``
    holds the rows of each attribute in ``specs`` for the same positions. Picklable plain data:
    what one worker task aggregates.
    """

    modulus: int
    fingerprint: bytes
    ciphertexts: bytes
    values: Mapping[str, Sequence[object]]
    specs: tuple[Attribute, ...]

    def aggregate(self) -> OwnerAggregate:
        """Decode and range-check the ciphertexts, then aggregate the rows (unsealed)."""
        public_key = PaillierPublicKey(self.modulus)
        width = public_key.ciphertext_width
        data = self.ciphertexts
        indicators = [
            int.from_bytes(data[i : i + width], "big") for i in range(0, len(data), width)
        ]
        check_ciphertexts(public_key, indicators, self.fingerprint)
        return aggregate_rows(public_key, indicators, self.values, self.specs)


@dataclass(frozen=True)
class ProfileOwner:
    """A data owner's side of one profile query.

    ``columns[name]`` holds the owner's values of each attribute in ``specs``, one per member in
    the order of the owner's blinded set (the order the indicators arrive in); ``rows`` is the
    size of that set. ``name`` is how errors name the owner.
    """

    public_key: PaillierPublicKey
    specs: tuple[Attribute, ...]
    columns: Mapping[str, Sequence[object]]
    rows: int
    name: str = "the owner"

    def indicator_chunks(
        self, fingerprint: bytes, chunks: Iterable[bytes]
    ) -> Iterator[IndicatorChunk]:
        """The stream's fixed-width ciphertexts with the rows they cover, as they come, joined
        into pieces of `AGGREGATE_ROWS` rows (the last may be shorter).

        Refuses indicators under another key than the query's, and a stream with more or fewer
        indicators than the owner has rows.
        """
        if fingerprint != self.public_key.fingerprint():
            raise InvalidCiphertext(
                "indicators are encrypted against a different key than the query's"
            )
        width = self.public_key.ciphertext_width
        start = 0
        for chunk in _joined(chunks, AGGREGATE_ROWS * width):
            count = len(chunk) // width
            if start + count > self.rows:
                raise MissingAttributeValues(
                    f"more indicators than the {self.rows} members of {self.name!r}"
                )
            values = {s.name: self.columns[s.name][start : start + count] for s in self.specs}
            yield IndicatorChunk(self.public_key.n, fingerprint, chunk, values, self.specs)
            start += count
        if start != self.rows:
            raise MissingAttributeValues(
                f"{start} indicators for the {self.rows} members of {self.name!r}"
            )

    def seal(
        self,
        partials: Iterable[OwnerAggregate],
        masks: MaskPool | Sequence[int],
        epsilon: float = 0.0,
    ) -> OwnerAggregate:
        """The chunks' aggregates combined, noised for `epsilon` (none at 0), then sealed.

        All partials are read before anything is combined, so a stream that fails at its end
        (a bad trailer) fails here before any aggregate exists.
        """
        public_key = self.public_key
        every = list(partials)
        if not every:
            every = [aggregate_rows(public_key, [], {s.name: [] for s in self.specs}, self.specs)]
        combined = combine_aggregates(public_key, every)
        if epsilon > 0:
            combined = noised_aggregate(public_key, combined, epsilon)
        return seal_aggregate(public_key, combined, masks)

    def aggregate(
        self,
        fingerprint: bytes,
        chunks: Iterable[bytes],
        masks: MaskPool | Sequence[int],
        epsilon: float = 0.0,
    ) -> OwnerAggregate:
        """The whole step in this process: every chunk aggregated, then `seal`."""
        partials = (chunk.aggregate() for chunk in self.indicator_chunks(fingerprint, chunks))
        return self.seal(partials, masks, epsilon)


class ProfileQuerier:
    """The querier's side of its profile queries: its Paillier key pair, decrypting aggregates.

    What may be decrypted, and what of it released, is the node's to decide
    (node/decryption.py, node/profile_release.py); this object only checks and decrypts.
    """

    def __init__(self, private_key: PaillierPrivateKey) -> None:
        self.private_key = private_key

    @property
    def public_key(self) -> PaillierPublicKey:
        """The key owners encrypt under (sent to them in the query)."""
        return self.private_key.public_key

    def check(self, fingerprint: bytes, aggregates: Iterable[OwnerAggregate]) -> None:
        """Refuse aggregates announced under another key, or with malformed ciphertexts."""
        if fingerprint != self.public_key.fingerprint():
            raise InvalidCiphertext("aggregates are encrypted against a different key")
        for aggregate in aggregates:
            check_ciphertexts(self.public_key, aggregate.ciphertexts(), fingerprint)

    def decrypt_cells(self, aggregate: OwnerAggregate) -> list[int]:
        """Every cell, signed (owner noise may be negative), in ``ciphertexts()`` order."""
        self.check(aggregate.key_fingerprint, [aggregate])
        return [self.private_key.decrypt_signed(c) for c in aggregate.ciphertexts()]

    def decrypt_profile(
        self, aggregate: OwnerAggregate, specs: Sequence[Attribute]
    ) -> DecodedProfile:
        """Decrypt an aggregate of the attributes asked for and undo their encodings."""
        check_requested(aggregate, specs)
        return decode_cells(tuple(specs), self.decrypt_cells(aggregate))


AGGREGATE_ROWS = 8192
"""Indicator rows per aggregation task: stream chunks (1 MiB, 1,365 rows at 3072 bits) are
joined up to this, since the bucketed products cost less per row over more rows (measured at
3072 bits, one process: about 125 us per row at 8,192 rows against 180 us at 1,365)."""


def _joined(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The chunks joined into pieces of at least `size` bytes (the last may be smaller)."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)
