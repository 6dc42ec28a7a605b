"""ECDH PSI-cardinality over ristretto255 or X25519 (DESIGN 3.2): keys, blinding, shuffling.

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
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from protocols.group_names import LEGACY_GROUP
from protocols.groups import group
from protocols.ristretto import POINT_BYTES


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


def secure_permutation(count: int) -> np.ndarray:
    """A uniformly random permutation of range(count), seeded from the OS CSPRNG.

    Philox is a counter-based generator built on a block-cipher design; its 128-bit key comes from
    `secrets`, so the order is unpredictable to anyone who does not hold that key.
    """
    generator = np.random.Generator(np.random.Philox(key=secrets.randbits(128)))
    return generator.permutation(count)


def shuffle_elements(elements: Sequence[bytes]) -> list[bytes]:
    """The elements in a fresh secret random order."""
    order = secure_permutation(len(elements))
    return [elements[i] for i in order]


def shuffle_points(points: bytes) -> bytes:
    """The 32-byte points of a concatenated buffer in a fresh secret random order."""
    count = len(points) // POINT_BYTES
    if count < 2:
        return points
    rows = np.frombuffer(points, dtype=np.uint8).reshape(count, POINT_BYTES)
    return bytes(rows[secure_permutation(count)].tobytes())


def blind_own_set(
    elements: Sequence[bytes], key: BlindingKey, group_name: str = LEGACY_GROUP
) -> bytes:
    """k * H(x) for each element, in the given order (callers shuffle first)."""
    return group(group_name).hash_and_blind(elements, key.scalar, len(elements))


def reblind(
    points: bytes, key: BlindingKey, first_index: int = 0, group_name: str = LEGACY_GROUP
) -> bytes:
    """k * P for each received point, validating each one."""
    return group(group_name).blind_points(points, key.scalar, first_index)
