"""Owners' display labels put on the profiles they describe (the combined one gets them all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from model.outcomes import COMBINED
from model.results import OwnerProfile

Labels = Mapping[str, Mapping[str, str]]


def with_owner_labels(
    profiles: Sequence[OwnerProfile], labels: Mapping[str, Labels]
) -> list[OwnerProfile]:
    """Each owner's profile with the labels its node sent (per language); the combined profile
    with every owner's, an owner listed earlier winning where two name a key differently."""
    combined: dict[str, dict[str, str]] = {}
    for p in profiles:
        for lang, names in labels.get(p.owner, {}).items():
            target = combined.setdefault(lang, {})
            for key, name in names.items():
                target.setdefault(key, name)
    out = []
    for p in profiles:
        own = combined if p.owner == COMBINED else labels.get(p.owner, {})
        out.append(replace(p, labels={lang: dict(names) for lang, names in own.items()}))
    return out
