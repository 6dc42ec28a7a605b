"""Release rules for a profile answer: every owner's profile and the combined one, together.

Under noise (the owner asks epsilon > 0) the owner noised every cell under encryption
(`protocols.owner_noise`); here its noised overlap is checked against its k (below: the owner's
whole profile is withheld, every cell `<k`), bins and numeric counts below k are hidden on
their noised values, nothing is hidden to protect others, and every number carries its error
bar. In exact mode (every owner releases exactly) the overlaps and bins of all owners and the
combined profile are audited together by linear programming (`release.suppression`): the
combined bins are sums of the owners' bins, so the tables are linked. Numeric statistics are
not linear in the bins; their count is thresholded at k.

The combined profile is released only when the owners' profiles can be: if an owner's profile
is withheld, or owners release under different modes (one exact, one noised: the combined minus
the noised owner's released cells would give the exact owner's cells), every combined cell is
hidden to protect that owner (`suppressed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from model.outcomes import COMBINED, DecryptedProfile
from model.results import Count, NumericStats, OwnerProfile, ReleaseInfo
from protocols.owner_noise import OVERLAP, StatisticNoise, noise_plan
from protocols.profile import CategoricalAttribute, decode_numeric
from release.error_bars import profile_bars
from release.suppression import LinkedCell, Tie, audit


def decode_profile(decrypted: DecryptedProfile) -> OwnerProfile:
    """Plaintext cells to bin counts and numeric statistics in the attributes' own units."""
    categorical: dict[str, dict[str, int | None]] = {}
    numeric: dict[str, NumericStats] = {}
    for spec in decrypted.specs:
        if isinstance(spec, CategoricalAttribute):
            categorical[spec.name] = {b: decrypted.cells[(spec.name, b)] for b in spec.bins}
        else:
            summary = decode_numeric(
                spec,
                decrypted.cells[(spec.name, "count")],
                decrypted.cells[(spec.name, "sum")],
                decrypted.cells[(spec.name, "sum_sq")],
            )
            numeric[spec.name] = NumericStats(
                summary.count, float(summary.sum), summary.mean, summary.std
            )
    return OwnerProfile(decrypted.owner, decrypted.cells[("", "overlap")], categorical, numeric)


def cell_names(profile: OwnerProfile) -> list[str]:
    """Every hideable cell of a profile: `overlap`, `attribute/bin`, and numeric attributes."""
    names = [OVERLAP]
    names += [f"{a}/{b}" for a, bins in profile.categorical.items() for b in bins]
    return names + list(profile.numeric)


def _hidden(
    profile: OwnerProfile,
    hide: set[str],
    info: ReleaseInfo,
) -> OwnerProfile:
    overlap = None if OVERLAP in hide else profile.overlap
    categorical: dict[str, dict[str, Count]] = {
        a: {b: None if f"{a}/{b}" in hide else n for b, n in bins.items()}
        for a, bins in profile.categorical.items()
    }
    numeric = {a: s for a, s in profile.numeric.items() if a not in hide}
    dropped = tuple(a for a in profile.numeric if a in hide)
    return OwnerProfile(profile.owner, overlap, categorical, numeric, dropped, info)


def _noised(
    decoded: OwnerProfile,
    decrypted: DecryptedProfile,
    plans: Sequence[Mapping[str, StatisticNoise]],
    k: int,
    epsilon: float,
) -> OwnerProfile:
    bars, unbounded = profile_bars(plans, decrypted.specs, decrypted.cells)
    if decoded.overlap is None or decoded.overlap < k:
        hide = set(cell_names(decoded))
    else:
        hide = {
            f"{a}/{b}"
            for a, bins in decoded.categorical.items()
            for b, n in bins.items()
            if n is None or n < k
        }
        hide |= {a for a, s in decoded.numeric.items() if s.count < k}
    numeric = {
        a: NumericStats(s.count, s.sum, None, None) if a in unbounded else s
        for a, s in decoded.numeric.items()
    }
    decoded = OwnerProfile(decoded.owner, decoded.overlap, decoded.categorical, numeric)
    info = ReleaseInfo(k=k, epsilon=epsilon, suppressed=len(hide), error_bars=bars)
    return _hidden(decoded, hide, info)


def _exact_cells(
    profiles: Sequence[OwnerProfile],
) -> tuple[list[LinkedCell], dict[str, str], list[Tie]]:
    """Linked cells of owners' overlaps and bins (unknowns: each owner's members per bin, or
    its overlap when it has no histogram) and of the combined profile, each cell's profile, and
    the ties every reader knows (each histogram of an owner sums to the same overlap)."""
    cells: list[LinkedCell] = []
    owner_of: dict[str, str] = {}
    unknowns: dict[tuple[str, str, str], int] = {}
    ties: list[Tie] = []
    owners = [p for p in profiles if p.owner != COMBINED]
    overlap_terms: dict[str, frozenset[int]] = {}
    for p in owners:
        histograms = []
        for a, bins in p.categorical.items():
            histograms.append(
                frozenset(unknowns.setdefault((p.owner, a, b), len(unknowns)) for b in bins)
            )
        if not histograms:
            histograms.append(
                frozenset({unknowns.setdefault((p.owner, "", OVERLAP), len(unknowns))})
            )
        overlap_terms[p.owner] = histograms[0]
        ties += [(histograms[0], other) for other in histograms[1:]]
    for p in profiles:
        sources = owners if p.owner == COMBINED else [p]
        name = f"{p.owner}:{OVERLAP}"
        terms = frozenset().union(*(overlap_terms[s.owner] for s in sources))
        cells.append(LinkedCell(name, terms, int(p.overlap or 0)))
        owner_of[name] = p.owner
        for a, bins in p.categorical.items():
            for b, n in bins.items():
                name = f"{p.owner}:{a}/{b}"
                terms = frozenset(unknowns[(s.owner, a, b)] for s in sources)
                cells.append(LinkedCell(name, terms, int(n or 0)))
                owner_of[name] = p.owner
    return cells, owner_of, ties


def released_profiles(
    decrypted: Sequence[DecryptedProfile], terms: Mapping[str, tuple[int, float]]
) -> list[OwnerProfile]:
    """Every owner's profile and the combined one under their owners' (k, epsilon)."""
    owners = [d.owner for d in decrypted if d.owner != COMBINED]
    decoded = {d.owner: decode_profile(d) for d in decrypted}
    noised = {o: terms[o][1] > 0 for o in owners}
    out: dict[str, OwnerProfile] = {}
    exact = [o for o in owners if not noised[o]]
    plans = {
        o: noise_plan(d.specs, terms[o][1])
        for d in decrypted
        if (o := d.owner) in noised and noised[o]
    }
    for d in decrypted:
        if d.owner in plans:
            k, epsilon = terms[d.owner]
            out[d.owner] = _noised(decoded[d.owner], d, [plans[d.owner]], k, epsilon)
    combined = next((d for d in decrypted if d.owner == COMBINED), None)
    mixed = bool(exact) and bool(plans)
    linked = [decoded[o] for o in exact] + ([decoded[COMBINED]] if combined and not plans else [])
    k_all = max((terms[o][0] for o in owners), default=0)
    if linked:
        k_exact = max(terms[o][0] for o in exact) if exact else 0
        cells, owner_of, ties = _exact_cells(linked)
        plan = audit(cells, k_exact, release_proven_zeros=True, ties=ties) if k_exact else None
        for p in linked:
            hide: set[str] = set()
            protective: set[str] = set()
            if plan is not None:
                for name in plan.hidden:
                    if owner_of[name] == p.owner:
                        hide.add(name.split(":", 1)[1])
                        if name in plan.protective:
                            protective.add(name.split(":", 1)[1])
                hide |= {a for a, s in p.numeric.items() if s.count < k_exact}
            ordered = tuple(n for n in cell_names(p) if n in protective)
            info = ReleaseInfo(k=k_exact, epsilon=0.0, suppressed=len(hide), protective=ordered)
            out[p.owner] = _hidden(p, hide, info)
    if combined is not None and (
        mixed or any(out[o].overlap is None for o in owners if o in out and noised[o])
    ):
        whole = decoded[COMBINED]
        names = cell_names(whole)
        info = ReleaseInfo(k=k_all, epsilon=0.0, suppressed=len(names), protective=tuple(names))
        out[COMBINED] = _hidden(whole, set(names), info)
    elif combined is not None and COMBINED not in out:
        k, epsilon = k_all, min(terms[o][1] for o in owners)
        out[COMBINED] = _noised(decoded[COMBINED], combined, [plans[o] for o in owners], k, epsilon)
    return [out[d.owner] for d in decrypted]
