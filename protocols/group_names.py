"""PSI group names, the node's `psi_groups` config key and the choice of a query's group.

Kept apart from protocols.groups so that parsing a config or a signed query imports no crypto.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RISTRETTO255 = "ristretto255"
X25519 = "x25519"
LEGACY_GROUP = RISTRETTO255
"""The group of a query whose signature names none (signed before groups existed)."""
DEFAULT_GROUPS = (X25519, RISTRETTO255)
"""What a querier allows unless told otherwise, in order of preference; what a node serves."""


class UnknownGroup(ValueError):
    """A group name this build does not implement."""


KNOWN_GROUPS = (X25519, RISTRETTO255)


def check_names(names: Sequence[str], where: str) -> tuple[str, ...]:
    """`names` as a tuple when each is a known group and none repeats; UnknownGroup otherwise."""
    for name in names:
        if name not in KNOWN_GROUPS:
            raise UnknownGroup(
                f"{where}: unknown PSI group {name!r}; known: {', '.join(KNOWN_GROUPS)}"
            )
    if len(set(names)) != len(names) or not names:
        raise UnknownGroup(f"{where}: list one or more PSI groups, each once")
    return tuple(names)


def choose(allowed: Sequence[str], supported: Mapping[str, Sequence[str]]) -> str:
    """The first group of `allowed` (the querier's order) that every party supports.

    UnknownGroup with one line naming who supports what when there is none.
    """
    for name in allowed:
        if all(name in groups for groups in supported.values()):
            return name
    lacking = "; ".join(
        f"{party} supports {', '.join(groups) or 'none'}" for party, groups in supported.items()
    )
    raise UnknownGroup(
        f"no PSI group allowed by the query ({', '.join(allowed)}) is supported by every "
        f"party: {lacking}"
    )
