"""The PSI groups a query can use, by name: ristretto255 (libsodium) and X25519 (OpenSSL).

Both speak 32-byte points and 32-byte scalars, so the coordinator's matching, the streams and
the shuffles are the same for either; only hashing, multiplication and validation differ. A
query names its group in the querier's signature (runtime/signing.py); each node advertises
the groups it serves (`psi_groups` in its config, Describe) and refuses any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

from protocols import ristretto, x25519
from protocols.group_names import KNOWN_GROUPS, RISTRETTO255, X25519, UnknownGroup


class PsiGroup(Protocol):
    """What psi.py and the node's executor call; both groups' modules provide it."""

    def random_scalar(self) -> bytes: ...

    def invert_scalar(self, scalar: bytes) -> bytes: ...

    def hash_to_point(self, element: bytes) -> bytes: ...

    def hash_points(self, elements: Sequence[bytes]) -> bytes: ...

    def hash_and_blind(self, elements: Sequence[bytes], scalar: bytes, count: int) -> bytes: ...

    def blind_points(self, points: bytes, scalar: bytes, first_index: int = 0) -> bytes: ...

    def validate_points(self, points: bytes, first_index: int = 0) -> None: ...


@dataclass(frozen=True)
class _Module:
    """A group module seen through the PsiGroup interface."""

    name: str
    module: ModuleType

    def random_scalar(self) -> bytes:
        return self.module.random_scalar()  # type: ignore[no-any-return]

    def invert_scalar(self, scalar: bytes) -> bytes:
        return self.module.invert_scalar(scalar)  # type: ignore[no-any-return]

    def hash_to_point(self, element: bytes) -> bytes:
        return self.module.hash_to_point(element)  # type: ignore[no-any-return]

    def hash_points(self, elements: Sequence[bytes]) -> bytes:
        return self.module.hash_points(elements)  # type: ignore[no-any-return]

    def hash_and_blind(self, elements: Sequence[bytes], scalar: bytes, count: int) -> bytes:
        return self.module.hash_and_blind(elements, scalar, count)  # type: ignore[no-any-return]

    def blind_points(self, points: bytes, scalar: bytes, first_index: int = 0) -> bytes:
        return self.module.blind_points(points, scalar, first_index)  # type: ignore[no-any-return]

    def validate_points(self, points: bytes, first_index: int = 0) -> None:
        self.module.validate_points(points, first_index)


GROUPS: dict[str, PsiGroup] = {
    RISTRETTO255: _Module(RISTRETTO255, ristretto),
    X25519: _Module(X25519, x25519),
}


def group(name: str) -> PsiGroup:
    """The group called `name`; UnknownGroup names the ones there are."""
    found = GROUPS.get(name)
    if found is None:
        raise UnknownGroup(f"unknown PSI group {name!r}; known: {', '.join(KNOWN_GROUPS)}")
    return found
