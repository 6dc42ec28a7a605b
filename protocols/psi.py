"""ECDH PSI-cardinality over ristretto255 or X25519 (DESIGN 3.2): one party's state and steps.

`PsiParty` is what a node holds for one query (its key, its group, its set's secret order) and
what the oracle tests run; `Blinder` is the per-chunk multiplication its worker tasks run.

Security (semi-honest parties, non-colluding coordinator):
- Each party draws a fresh secret scalar per query (`BlindingKey.fresh`) and forgets it when the
  query ends, so blinded values cannot be linked across queries.
- A party's own set is shuffled *before* it is hashed and blinded, so the order of the blinded
  stream says nothing about the source order; a re-blinded set is shuffled again unless the
  protocol needs its order kept (the profile query, where the set owner keeps its own order map).
- Every point received from another party is validated (canonical encoding, not the identity).
Leakage: the coordinator learns set sizes and the size of every membership region; nodes learn the
sizes of the sets they re-blind. No party sees another party's elements or hashes of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from protocols.group_names import LEGACY_GROUP
from protocols.groups import group
from protocols.ristretto import POINT_BYTES as POINT_BYTES  # both groups: 32-byte points

Points = bytes | np.ndarray
"""Concatenated 32-byte points: bytes, or an (n, 32) uint8 array of them."""


class KeyForgotten(RuntimeError):
    """The query's key was already forgotten; a new query needs a fresh key."""


@dataclass
class BlindingKey:
    """A party's secret scalar for one query; `forget` wipes it."""

    _scalar: bytearray = field(repr=False)

    @classmethod
    def fresh(cls, group_name: str = LEGACY_GROUP) -> BlindingKey:
        """Draw a new random scalar of the named group (never reused across queries)."""
        return cls(bytearray(group(group_name).random_scalar()))

    @property
    def scalar(self) -> bytes:
        """The scalar bytes; raises once forgotten."""
        if not any(self._scalar):
            raise KeyForgotten("the blinding key of this query has been forgotten")
        return bytes(self._scalar)

    def forget(self) -> None:
        """Overwrite the scalar in place."""
        for i in range(len(self._scalar)):
            self._scalar[i] = 0


def secure_generator() -> np.random.Generator:
    """A numpy generator keyed from the OS CSPRNG, for secret orders and secret draws.

    Philox is a counter-based generator built on a block-cipher design; its 128-bit key comes from
    `secrets`, so its output is unpredictable to anyone who does not hold that key.
    """
    return np.random.Generator(np.random.Philox(key=secrets.randbits(128)))


def secure_permutation(count: int) -> np.ndarray:
    """A uniformly random permutation of range(count) from a fresh `secure_generator`."""
    return secure_generator().permutation(count)


def shuffle_elements(elements: Sequence[bytes]) -> list[bytes]:
    """The elements in a fresh secret random order."""
    order = secure_permutation(len(elements))
    return [elements[i] for i in order]


def shuffle_points(points: bytes) -> bytes:
    """The 32-byte points of a concatenated buffer in a fresh secret random order."""
    count = len(points) // POINT_BYTES
    if count < 2:
        return points
    return bytes(_rows(points)[secure_permutation(count)].tobytes())


@dataclass(frozen=True)
class Blinder:
    """Multiplication by one scalar of one group: the unit of work a worker process runs.

    It holds a copy of the scalar (so it can be pickled to a worker with each chunk); a party
    makes one per step (`PsiParty.blinder`, `PsiParty.unblinder`) and drops it with the step.
    """

    group_name: str
    scalar: bytes = field(repr=False)

    def hash_and_blind(self, elements: Sequence[bytes]) -> bytes:
        """k * H(x) for each element, concatenated in the given order."""
        return group(self.group_name).hash_and_blind(elements, self.scalar, len(elements))

    def hash_and_blind_keeping_hashes(self, elements: Sequence[bytes]) -> tuple[bytes, bytes]:
        """(H(x), k * H(x)) for each element, both concatenated in the given order."""
        chosen = group(self.group_name)
        hashed = chosen.hash_points(elements)
        return hashed, chosen.blind_points(hashed, self.scalar)

    def blind(self, points: bytes, first_index: int = 0) -> bytes:
        """k * P for each point, validating each (an error names its position from
        `first_index`: the point's place in the whole stream)."""
        return group(self.group_name).blind_points(points, self.scalar, first_index)


class PsiParty:
    """One party's state in one PSI query: its group, its fresh key and its set's secret order.

    The node's session holds one (node/set_blinding.py runs its steps on the executor, one
    `Blinder` task per chunk); the oracle tests run the same object in one process. `order` is
    the secret shuffle of the party's own set: position i of the blinded stream is member
    `order[i]` of the set as loaded; only the party holds it (the profile owner uses it to keep
    its attribute rows in stream order).
    """

    def __init__(self, key: BlindingKey, order: np.ndarray, group_name: str = LEGACY_GROUP):
        self.key = key
        self.order = order
        self.group_name = group_name

    @classmethod
    def fresh(cls, set_size: int = 0, group_name: str = LEGACY_GROUP) -> PsiParty:
        """A new key of the named group and a new secret order of a set of `set_size`."""
        return cls(BlindingKey.fresh(group_name), secure_permutation(set_size), group_name)

    def blinder(self) -> Blinder:
        """Multiplication by this party's key (raises KeyForgotten once forgotten)."""
        return Blinder(self.group_name, self.key.scalar)

    def unblinder(self) -> Blinder:
        """Multiplication by the inverse of this party's key: takes its key off."""
        return Blinder(self.group_name, group(self.group_name).invert_scalar(self.key.scalar))

    def in_secret_order(self, points: Points, items: int) -> Iterator[bytes]:
        """Points of the set as loaded (one per member), put in the secret order a chunk of
        `items` at a time (no second copy of the whole set)."""
        rows = _rows(points)
        for start in range(0, len(self.order), items):
            yield rows[self.order[start : start + items]].tobytes()

    def load_order_rows(self) -> LoadOrderRows:
        """An empty buffer that puts points arriving in the secret order back in load order."""
        return LoadOrderRows(self.order)

    def in_load_order(self, points: bytes) -> bytes:
        """Points in the secret order (one per member), put back in the order as loaded."""
        rows = self.load_order_rows()
        rows.add(points)
        return rows.rows.tobytes()

    def blind_own_set(self, elements: Sequence[bytes]) -> bytes:
        """k * H(x) for the party's own elements, already in their secret order."""
        return self.blinder().hash_and_blind(elements)

    def reblind(self, points: bytes, first_index: int = 0) -> bytes:
        """k * P for each point received from another party, validating each."""
        return self.blinder().blind(points, first_index)

    def unblind(self, points: bytes, first_index: int = 0) -> bytes:
        """k^-1 * P for each point: this party's key taken off (only as node/unblinding.py
        allows: asked of arbitrary points it is an oracle)."""
        return self.unblinder().blind(points, first_index)

    def forget(self) -> None:
        """Wipe the key and drop the order: nothing of this query can be linked any more."""
        self.key.forget()
        self.order = np.empty(0, dtype=np.int64)


class LoadOrderRows:
    """One point per member in load order, filled from points that arrive in the secret order:
    each chunk is written straight to its members' rows (the whole set is held once)."""

    def __init__(self, order: np.ndarray) -> None:
        self._order = order
        self._filled = 0
        self.rows = np.empty((len(order), POINT_BYTES), dtype=np.uint8)

    def add(self, points: bytes) -> None:
        """The next points of the secret order."""
        count = len(points) // POINT_BYTES
        self.rows[self._order[self._filled : self._filled + count]] = _rows(points)
        self._filled += count

    @property
    def complete(self) -> bool:
        """Whether every member's point has arrived."""
        return self._filled == len(self._order)


def _rows(points: Points) -> np.ndarray:
    return np.frombuffer(points, dtype=np.uint8).reshape(-1, POINT_BYTES)
