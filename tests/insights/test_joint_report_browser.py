"""The report's joint-operations section in a real browser: the prospect ranking, the
complementarity heatmap and the partner mix show the numbers counted from the plain sets."""

from __future__ import annotations

import re
from pathlib import Path

from client.prospects import analyse
from gongying.report import render_report
from tests.insights.chromium import needs_chromium, screenshot_and_dom
from tests.insights.samples import demo_sets, overlap_from_sets
from tests.insights.test_report import parse

QUERIER = "brand"

pytestmark = needs_chromium


def oracle_rows(sets: dict[str, set[int]]) -> list[list[str]]:
    """Ranking, heatmap and greedy-mix rows written out from the sets alone."""
    partners = [p for p in sets if p != QUERIER]
    new = {p: sets[p] - sets[QUERIER] for p in partners}
    ranked = sorted(partners, key=lambda p: -len(new[p]))
    rows = [
        [str(i + 1), p, f"{len(new[p]):,}", f"{100 * len(new[p]) / len(sets[p]):.1f}%", ""]
        for i, p in enumerate(ranked)
    ]
    parties = list(sets)
    for a in parties:
        cells = [a]
        for b in parties:
            adds = len(sets[b] - sets[a]) / len(sets[b]) if a != b else None
            cells.append("-" if adds is None else f"{100 * adds:.1f}%")
        rows.append(cells)
    reached: set[int] = set(sets[QUERIER])
    left = list(partners)
    for step in range(1, len(partners) + 1):
        best = max(left, key=lambda p: len(sets[p] - reached))
        gain = len(sets[best] - reached)
        reached |= sets[best]
        left.remove(best)
        rows.append([str(step), best, f"{gain:,}", f"{len(reached - sets[QUERIER]):,}", "yes"])
    return rows


def test_chromium_shows_the_ranking_heatmap_and_mix(tmp_path: Path) -> None:
    sets = demo_sets()
    overlap = overlap_from_sets(sets)
    analysis = analyse(overlap, QUERIER, k=len(sets) - 1)
    page_file = tmp_path / "joint.html"
    page_file.write_text(render_report(overlap, None, joint=analysis), encoding="utf-8")
    png, dom = screenshot_and_dom(page_file, tmp_path, "1280,3000")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    page = parse(dom)
    for row in oracle_rows(sets):
        assert row in page.rows, (row, page.rows)
    # the heatmap's shade follows the share: a darker cell for a larger share of B new to A
    shades = re.findall(r'<td style="background:(#[0-9a-f]{6})', dom)
    assert len(shades) == len(sets) * (len(sets) - 1)
