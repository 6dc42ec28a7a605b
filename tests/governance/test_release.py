"""Release rules attacked: differencing and padding under noise, subtraction and LP audit in exact
mode, thresholds on noised values, labels, the empty `other` bin."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.outcomes import COMBINED, DecryptedProfile
from model.results import OwnerProfile
from protocols.matching import RegionCounts
from protocols.paillier_attributes import CategoricalAttribute
from release.overlap import (
    ReleasedOverlap,
    pair_cell,
    region_cell,
    released_overlap,
    size_cell,
)
from release.profile import released_profiles
from release.suppression import LinkedCell, audit, feasible_interval

Z = 6.0  # margins are six binomial standard errors: a correct release fails ~2e-9 of the time


def counts(parties: tuple[str, ...], regions: dict[frozenset[str], int]) -> RegionCounts:
    full = {frozenset(c): 0 for n in range(1, len(parties) + 1) for c in combinations(parties, n)}
    full.update(regions)
    sizes = {p: sum(v for m, v in full.items() if p in m) for p in parties}
    return RegionCounts(parties, sizes, full)


def r(*parties: str) -> frozenset[str]:
    return frozenset(parties)


def test_noised_release_derives_every_total_from_noised_regions() -> None:
    parties = ("brand", "a", "b")
    answer = counts(parties, {r("brand"): 400, r("brand", "a"): 300, r("a"): 900, r("b"): 50})
    regions, sizes, pairs, everyone, info, union = released_overlap(answer, k=10, epsilon=0.5)
    assert info.epsilon == 0.5 and info.protective == ()
    for p in parties:  # a released size is the sum of its released (noised) regions
        shown = [n for m, n in regions.items() if p in m]
        if sizes[p] is not None and None not in shown:
            assert sizes[p] == sum(n for n in shown if n is not None)
    assert everyone == regions[r(*parties)]
    if None not in regions.values():
        assert union == sum(n for n in regions.values() if n is not None)
    bars = {bar.table: bar for bar in info.error_bars}
    assert bars["regions"].sensitivity == 2 and bars["regions"].scale == 4.0
    assert (bars["set_sizes"].noised_cells, bars["pairwise"].noised_cells) == (4, 2)
    assert (
        bars["union"].noised_cells == 7 and bars["union"].half_width > bars["set_sizes"].half_width
    )
    assert bars["set_sizes"].half_width > bars["pairwise"].half_width > bars["regions"].half_width
    # thresholds on noised values only, nothing hidden to protect others
    hidden = [v for v in [*regions.values(), *sizes.values(), *pairs.values()] if v is None]
    assert len(hidden) == info.suppressed
    for value in [*regions.values(), *sizes.values(), *pairs.values()]:
        assert value is None or value >= 10


def test_noised_counts_have_the_declared_mean_and_variance() -> None:
    answer = counts(("brand", "a"), {r("brand"): 1000, r("a"): 1000, r("brand", "a"): 1000})
    draws = [released_overlap(answer, k=0, epsilon=0.5) for _ in range(3000)]
    errors = [d[0][r("brand", "a")] - 1000 for d in draws]  # type: ignore[operator]
    size_errors = [d[1]["brand"] - 2000 for d in draws]  # type: ignore[operator]
    q = math.exp(-1 / 4.0)
    variance = 2 * q / (1 - q) ** 2
    n = len(errors)
    assert abs(sum(errors) / n) < Z * math.sqrt(variance / n)
    assert abs(sum(e * e for e in errors) / n - variance) < Z * variance * math.sqrt(5 / n)
    size_var = sum(e * e for e in size_errors) / n  # two independent regions: twice the variance
    assert abs(size_var - 2 * variance) < Z * 2 * variance * math.sqrt(5 / n)


def test_differencing_f_versus_f_plus_one_is_no_better_than_the_dp_bound() -> None:
    """F, then F plus a target: the pair count is 595 or 596. The best guess from one noised
    answer is right with probability at most e^eps / (1 + e^eps) (eps-DP between neighbours)."""
    epsilon, trials, right = 0.25, 3000, 0
    for trial in range(trials):
        member = trial % 2 == 0
        # the brand asks F plus the target; the target is at a or not (one member at one party)
        pair = 595 + member
        answer = counts(
            ("brand", "a"), {r("brand"): 406 - member, r("a"): 2404, r("brand", "a"): pair}
        )
        pairs = released_overlap(answer, k=10, epsilon=epsilon).pairwise
        guess = (pairs[("brand", "a")] or 0) >= 596
        right += guess == member
    bound = math.exp(epsilon) / (1 + math.exp(epsilon))
    assert right / trials <= bound + Z * math.sqrt(0.25 / trials)


def test_padding_one_target_and_99_fakes_is_near_chance() -> None:
    """Target plus 99 invented ids: which of brand only, a, b, both holds the target? Moving the
    target between two of these is two neighbouring steps (2 eps); four hypotheses under 2-eps
    indistinguishability are guessed right with probability at most e^2eps / (e^2eps + 3)."""
    epsilon, trials, right = 0.25, 2000, 0
    places = [r("brand"), r("brand", "a"), r("brand", "b"), r("brand", "a", "b")]
    for trial in range(trials):
        where = places[trial % 4]
        regions = {r("brand"): 99, r("a"): 3000, r("b"): 3000}
        regions[where] = regions.get(where, 0) + 1
        released, *_ = released_overlap(counts(("brand", "a", "b"), regions), k=5, epsilon=epsilon)
        baseline = {r("brand"): 99}
        guess = max(places, key=lambda m: (released[m] or 0) - baseline.get(m, 0))
        right += guess == where
    bound = math.exp(2 * epsilon) / (math.exp(2 * epsilon) + 3)
    assert right / trials <= bound + Z * math.sqrt(bound * (1 - bound) / trials)


def test_subtraction_with_ten_known_members_under_noise_is_no_better_than_the_dp_bound() -> None:
    """Ten known members (at a) plus the target, k = 5: the querier knows its own size (11)
    and estimates the brand-only count both from its noised region and as 11 minus its other
    noised regions. Target at a or nowhere is one member at one party: eps-DP bounds any guess
    at e^eps / (1 + e^eps)."""
    epsilon, trials, right = 0.25, 3000, 0
    for trial in range(trials):
        at_a = trial % 2 == 0
        regions = {r("brand", "a"): 10 + at_a, r("brand"): 1 - at_a, r("a"): 3000, r("b"): 3000}
        released = released_overlap(counts(("brand", "a", "b"), regions), k=5, epsilon=epsilon)
        others = sum(
            n or 0 for m, n in released.regions.items() if "brand" in m and m != r("brand")
        )
        estimate = ((released.regions[r("brand")] or 0) + (11 - others)) / 2
        right += (estimate < 0.5) == at_a
    bound = math.exp(epsilon) / (1 + math.exp(epsilon))
    assert right / trials <= bound + Z * math.sqrt(0.25 / trials)


def attacker_interval(
    answer: RegionCounts, released: ReleasedOverlap, own: str, target: frozenset[str]
) -> tuple[float, float]:
    """What the querier can say about one region from everything released plus its own size."""
    regions, sizes, pairs, _, _, union = released
    parties = list(answer.parties)
    keys = list(answer.regions)
    index = {m: i for i, m in enumerate(keys)}
    cells = [
        LinkedCell(region_cell(m, parties), frozenset({index[m]}), n or 0)
        for m, n in regions.items()
    ]
    cells += [
        LinkedCell(size_cell(p), frozenset(index[m] for m in keys if p in m), n or 0)
        for p, n in sizes.items()
    ]
    cells += [
        LinkedCell(pair_cell(a, b), frozenset(index[m] for m in keys if {a, b} <= m), n or 0)
        for (a, b), n in pairs.items()
    ]
    cells.append(
        LinkedCell("own", frozenset(index[m] for m in keys if own in m), answer.sizes[own])
    )
    cells.append(LinkedCell("union", frozenset(index.values()), union or 0))
    known = {c.name for c in cells if c.name == "own"}
    known |= {region_cell(m, parties) for m, n in regions.items() if n is not None}
    known |= {size_cell(p) for p, n in sizes.items() if n is not None}
    known |= {pair_cell(a, b) for (a, b), n in pairs.items() if n is not None}
    known |= {"union"} if union is not None else set()
    goal = next(c for c in cells if c.name == region_cell(target, parties))
    return feasible_interval(cells, known, goal)


def test_subtraction_past_suppression_fails_in_exact_mode() -> None:
    """Ten known members (all at a) plus the target, k = 5: whether the target is at a, at b or
    at neither, the released tables (sizes and pairs audited with the regions) leave the
    brand-only count free to be 0 or 1."""
    for where in (r("brand", "a"), r("brand", "b"), r("brand")):
        regions = {r("brand", "a"): 10, r("a"): 3000, r("b"): 3000, r("a", "b"): 40}
        regions[where] = regions.get(where, 0) + 1
        answer = counts(("brand", "a", "b"), regions)
        released = released_overlap(answer, k=5, epsilon=0.0, known_sizes=["brand"])
        lo, hi = attacker_interval(answer, released, "brand", r("brand"))
        assert lo <= 0 and hi >= 5, where
        assert released[4].protective  # protection hid more than the small cells ...
        shown = released[0]
        assert all(shown[m] is None for m in (r("brand"), r("brand", "b"), r("brand", "a", "b")))


region_values = st.lists(st.integers(0, 14), min_size=7, max_size=7)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(region_values, st.integers(3, 8), st.booleans())
def test_no_suppressed_cell_is_narrower_than_k(values: list[int], k: int, querier: bool) -> None:
    parties = ("p", "q", "s")
    keys = [frozenset(c) for n in (1, 2, 3) for c in combinations(parties, n)]
    answer = counts(parties, dict(zip(keys, values, strict=True)))
    released = released_overlap(answer, k=k, epsilon=0.0, known_sizes=["p"] if querier else [])
    regions, sizes, pairs, _, info, union = released
    names = {region_cell(m, list(parties)): n for m, n in regions.items()}
    names["union"] = union
    names |= {size_cell(p): n for p, n in sizes.items()}
    names |= {pair_cell(a, b): n for (a, b), n in pairs.items()}
    index = {m: i for i, m in enumerate(keys)}
    cells = [
        LinkedCell(region_cell(m, list(parties)), frozenset({index[m]}), answer.regions[m])
        for m in keys
    ]
    cells += [
        LinkedCell(size_cell(p), frozenset(index[m] for m in keys if p in m), answer.sizes[p])
        for p in parties
    ]
    cells += [
        LinkedCell(
            pair_cell(a, b),
            frozenset(index[m] for m in keys if {a, b} <= m),
            sum(answer.regions[m] for m in keys if {a, b} <= m),
        )
        for a, b in combinations(parties, 2)
    ]
    cells.append(LinkedCell("union", frozenset(index.values()), sum(answer.regions.values())))
    known = {n for n, v in names.items() if v is not None} | (
        {size_cell("p")} if querier else set()
    )
    for cell in cells:
        if names[cell.name] is not None:
            assert names[cell.name] == cell.value
            assert cell.value >= k or (querier and cell.name == size_cell("p"))  # its own size
            continue
        lo, hi = feasible_interval(cells, known, cell)
        only_querier = feasible_interval(cells, {size_cell("p")} if querier else set(), cell)
        if only_querier[1] - only_querier[0] >= k:  # else the querier's own list pins it
            assert hi - lo >= k - 1e-6, (cell.name, lo, hi)
        small = cell.name not in info.protective
        assert small == (cell.value < k)  # `<k` only for small cells, `suppressed` otherwise
    assert info.suppressed == sum(v is None for v in names.values())


def profile(owner: str, overlap: int, bins: dict[str, int]) -> DecryptedProfile:
    spec = CategoricalAttribute("gender", tuple(b for b in bins if b != "other"))
    cells = {("", "overlap"): overlap} | {("gender", b): n for b, n in bins.items()}
    return DecryptedProfile(owner, (spec,), cells)


def test_an_empty_other_bin_does_not_hide_a_real_bin_in_exact_mode() -> None:
    d = profile("d", 2000, {"f": 1470, "m": 530, "other": 0})
    (released,) = released_profiles([d], {"d": (5, 0.0)})
    assert released.categorical["gender"] == {"f": 1470, "m": 530, "other": 0}
    assert released.overlap == 2000 and released.release.suppressed == 0


def test_linked_owner_and_combined_tables_are_audited_together() -> None:
    """A small bin at one owner cannot be recovered as combined minus the other owner."""
    d = profile("d", 400, {"f": 397, "m": 3, "other": 0})
    e = profile("e", 500, {"f": 250, "m": 250, "other": 0})
    combined = profile(COMBINED, 900, {"f": 647, "m": 253, "other": 0})
    out = {p.owner: p for p in released_profiles([d, e, combined], {"d": (5, 0.0), "e": (5, 0.0)})}
    assert out["d"].categorical["gender"]["m"] is None
    assert out["d"].release.label("gender/m") == "<5"

    def visible(p: OwnerProfile, b: str) -> int | None:
        return p.categorical["gender"][b]

    derivable = (
        visible(out[COMBINED], "m") is not None and visible(out["e"], "m") is not None
    ) or (out["d"].overlap is not None and visible(out["d"], "f") is not None)
    assert not derivable
    protective = [n for p in out.values() for n in p.release.protective]
    assert protective and all(
        p.release.label(n) == "suppressed" for p in out.values() for n in p.release.protective
    )


def test_noised_owner_below_k_is_withheld_whole_and_the_combined_with_it() -> None:
    d = profile("d", 3, {"f": 40, "m": 2, "other": 1})  # noised overlap 3 < k
    e = profile("e", 500, {"f": 250, "m": 250, "other": 0})
    combined = profile(COMBINED, 503, {"f": 290, "m": 252, "other": 1})
    out = {p.owner: p for p in released_profiles([d, e, combined], {"d": (5, 1.0), "e": (5, 1.0)})}
    assert out["d"].overlap is None and set(out["d"].categorical["gender"].values()) == {None}
    assert out["e"].categorical["gender"] == {"f": 250, "m": 250, "other": None}
    assert out["e"].release.error_bar("gender") is not None and out["e"].release.protective == ()
    assert out[COMBINED].overlap is None
    assert out[COMBINED].release.label("overlap") == "suppressed"


bins_strategy = st.lists(st.sampled_from([0, 1, 2, 4, 9, 30, 120]), min_size=3, max_size=3)


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(bins_strategy, bins_strategy, st.integers(3, 8))
def test_no_profile_cell_is_narrower_than_k_across_owners_and_combined(
    d_bins: list[int], e_bins: list[int], k: int
) -> None:
    """Two owners and their combined profile, exact mode: an attacker's LP over every released
    cell of the three tables (bins sum to each overlap; combined = d + e) leaves each hidden
    cell at least k wide, and a `<k` cell free to be 0."""
    names = ("f", "m", "other")
    d = profile("d", sum(d_bins), dict(zip(names, d_bins, strict=True)))
    e = profile("e", sum(e_bins), dict(zip(names, e_bins, strict=True)))
    both = [a + b for a, b in zip(d_bins, e_bins, strict=True)]
    c = profile(COMBINED, sum(both), dict(zip(names, both, strict=True)))
    out = {p.owner: p for p in released_profiles([d, e, c], {"d": (k, 0.0), "e": (k, 0.0)})}
    unknown = {("d", b): i for i, b in enumerate(names)} | {
        ("e", b): 3 + i for i, b in enumerate(names)
    }
    cells: list[LinkedCell] = []
    shown: dict[str, int | None] = {}
    for owner, sources in (("d", ["d"]), ("e", ["e"]), (COMBINED, ["d", "e"])):
        result = out[owner]
        terms = frozenset(unknown[(s, b)] for s in sources for b in names)
        truth = {"d": d_bins, "e": e_bins, COMBINED: both}[owner]
        cells.append(LinkedCell(f"{owner}:overlap", terms, sum(truth)))
        shown[f"{owner}:overlap"] = result.overlap
        for i, b in enumerate(names):
            name = f"{owner}:{b}"
            cells.append(LinkedCell(name, frozenset(unknown[(s, b)] for s in sources), truth[i]))
            shown[name] = result.categorical["gender"][b]
    known = {n for n, v in shown.items() if v is not None}
    for cell in cells:
        owner, local = cell.name.split(":")
        label = out[owner].release.label("overlap" if local == "overlap" else f"gender/{local}")
        if shown[cell.name] is not None:
            assert shown[cell.name] == cell.value
            assert cell.value >= k or cell.value == 0  # only a proven zero is shown below k
            continue
        lo, hi = feasible_interval(cells, known, cell)
        assert hi - lo >= k - 1e-6, (cell.name, lo, hi)
        # `<k` only below k; `suppressed` for cells at or above k, or a proven zero that was
        # hidden later to protect another cell
        assert label == (f"<{k}" if cell.value < k else "suppressed") or (
            label == "suppressed" and cell.value == 0
        ), cell.name
        if label != "suppressed":
            assert lo <= 1e-6, cell.name


def test_audit_refuses_nothing_silently_on_a_lone_small_cell() -> None:
    cells = [
        LinkedCell("x", frozenset({0}), 3),
        LinkedCell("t", frozenset({0, 1}), 50),
        LinkedCell("y", frozenset({1}), 47),
    ]
    plan = audit(cells, 5)
    assert plan.primary == {"x"} and len(plan.protective) == 1


def test_an_overlap_beyond_the_lp_size_hides_totals_and_protects_the_querier_group() -> None:
    """Seven parties (127 regions): sizes and pairs are hidden (shown `suppressed`) except the
    querier's own size; the querier's LP over what is released leaves every hidden region at
    least k wide and free to be 0."""
    parties = tuple(f"p{i}" for i in range(7))
    keys = [frozenset(c) for n in range(1, 8) for c in combinations(parties, n)]
    values = [(i * 37) % 11 if i % 5 else 200 + i for i in range(len(keys))]
    answer = counts(parties, dict(zip(keys, values, strict=True)))
    regions, sizes, pairs, _, info, union = released_overlap(
        answer, k=5, epsilon=0.0, known_sizes=["p0"]
    )
    assert union is None
    assert sizes["p0"] == answer.sizes["p0"]
    assert all(sizes[p] is None for p in parties[1:]) and set(pairs.values()) == {None}
    assert all(info.label(size_cell(p)) == "suppressed" for p in parties[1:])
    index = {m: i for i, m in enumerate(keys)}
    cells = [
        LinkedCell(region_cell(m, list(parties)), frozenset({index[m]}), answer.regions[m])
        for m in keys
    ]
    cells.append(
        LinkedCell("own", frozenset(index[m] for m in keys if "p0" in m), answer.sizes["p0"])
    )
    known = {"own"} | {region_cell(m, list(parties)) for m, n in regions.items() if n is not None}
    for cell in cells[:-1]:
        if cell.name in known:
            assert regions[keys[list(cells).index(cell)]] == cell.value >= 5
            continue
        lo, hi = feasible_interval(cells, known, cell)
        assert lo <= 1e-6 and hi - lo >= 5 - 1e-6, cell.name
