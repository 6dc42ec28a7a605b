"""The HTML report: every number as text, nothing remote, valid HTML, rendered by Chromium."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from client.insights import Contribution, contribution
from gongying.report import render_report, write_report
from model.results import OverlapResult, ProfileResult, ReleaseInfo
from tests.insights.chromium import needs_chromium, screenshot_and_dom
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile, with_suppressed

VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr", "area", "base"}
SVG_EMPTY = {"rect", "circle", "line", "path"}


class Page(HTMLParser):
    """Collects text, table rows and attributes, and checks that tags nest and close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag not in VOID | SVG_EMPTY:
            self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    assert page.errors == [] and page.stack == [], (page.errors, page.stack)
    return page


def expected_rows(
    overlap: OverlapResult, profile: ProfileResult, shares: Contribution
) -> list[list[str]]:
    """The table rows the page must show, written out from the result objects."""
    rows = []
    for members, count in overlap.regions:
        rows.append(
            [
                " & ".join(members),
                *("●" if p in members else "" for p in overlap.parties),
                f"{count:,}",
            ]
        )
    for a in overlap.parties:
        rows.append(
            [
                a,
                *(
                    f"{overlap.set_sizes[a]:,}" if a == b else f"{overlap.pair(a, b):,}"
                    for b in overlap.parties
                ),
            ]
        )
    owners = [p.owner for p in profile.profiles]
    for attribute in ("age_band", "gender"):
        for bin_name in profile.profiles[0].categorical[attribute]:
            cells = []
            for o in owners:  # members, then their share of the owner's whole shared audience
                n = profile.profile(o).categorical[attribute][bin_name]
                audience = profile.profile(o).overlap
                assert n is not None and audience
                cells += [f"{n:,}", f"{100 * n / audience:.1f}%"]
            rows.append([bin_name, *cells])
    for owner in owners:
        s = profile.profile(owner).numeric["spend_12m"]
        rows.append(
            [owner, f"{s.count:,}", f"{s.sum:,.2f}", f"{s.mean or 0:,.2f}", f"{s.std or 0:,.2f}"]
        )
    for share in shares.shares:
        assert share.shapley is not None
        rows.append(
            [
                share.retailer,
                f"{share.reach:,}",
                f"{share.unique_reach:,}",
                f"{share.incremental_reach:,}",
                str(shares.order.index(share.retailer) + 1),
                f"{float(share.shapley):,.1f}",
                f"{100 * float(share.shapley) / (shares.total_reach or 1):.1f}%",
            ]
        )
    return rows


@pytest.fixture
def sample() -> tuple[OverlapResult, ProfileResult, Contribution]:
    overlap = overlap_from_sets(demo_sets())
    return overlap, sample_profile(), contribution(overlap, "brand")


def test_every_number_of_the_results_is_in_the_page(
    sample: tuple[OverlapResult, ProfileResult, Contribution], tmp_path: Path
) -> None:
    overlap, profile, shares = sample
    path = write_report(
        tmp_path / "report.html", overlap, profile, shares, {"epsilon": 0.5, "rules": ["k>=50"]}
    )
    page = parse(path.read_text(encoding="utf-8"))
    for row in expected_rows(overlap, profile, shares):
        assert row in page.rows, row
    text = " ".join(page.text)
    for label in (f"{overlap.all_parties:,}", f"{shares.total_reach:,}", "q-test", "p-test"):
        assert label in text
    assert "0.5" in text and "k>=50" in text
    for members, count in overlap.regions:  # the UpSet bars carry the counts as SVG text
        assert f">{count:,}</text>" in path.read_text(encoding="utf-8"), members


def test_nothing_is_fetched_and_nothing_runs(
    sample: tuple[OverlapResult, ProfileResult, Contribution],
) -> None:
    document = render_report(*sample, provenance={"policy": {"min_cohort": 50}})
    page = parse(document)
    assert "http://" not in document and "https://" not in document
    assert not [a for a in page.attributes if a[1] in ("src", "href", "srcset", "xlink:href")]
    assert "<script" not in document and "@import" not in document and "url(" not in document
    assert {tag for tag, _, _ in page.attributes} >= {"svg", "rect", "circle"}


def test_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&co'
    overlap = overlap_from_sets({"brand": {1, 2, 3}, hostile: {2, 3, 4}}, query_id="<q>")
    document = render_report(overlap, None, contribution(overlap, "brand"), {hostile: hostile})
    page = parse(document)
    assert "<script" not in document and "&lt;script&gt;" in document
    assert hostile in " ".join(page.text)


def test_suppressed_regions_and_missing_values_are_said(tmp_path: Path) -> None:
    result = overlap_from_sets(demo_sets())
    release = ReleaseInfo(k=5, suppressed=2, protective=("regions/brand+retailer_a",))
    overlap = with_suppressed(
        replace(result, release=release), ("brand", "retailer_b"), ("brand", "retailer_a")
    )
    path = write_report(tmp_path / "r.html", overlap, None, contribution(overlap, "brand"))
    page = parse(path.read_text(encoding="utf-8"))
    assert ["brand & retailer_b", "●", "", "●", "", "<5"] in page.rows  # below k
    assert ["brand & retailer_a", "●", "●", "", "", "suppressed"] in page.rows  # protects others
    text = " ".join(page.text)
    assert "region brand & retailer_b is below k (shown <5)" in text
    assert "region brand & retailer_a is hidden to protect others (shown suppressed)" in text
    assert (
        "Shapley value of retailer_b cannot be computed: region brand & retailer_b is suppressed"
        in text
    )
    assert "not computable" in text


def test_a_report_of_one_query_and_of_none() -> None:
    page = parse(render_report(None, sample_profile()))
    assert "Audience profile" in page.text and "Overlap on email" not in page.text
    with pytest.raises(ValueError, match="needs an overlap or a profile"):
        write_report("unused.html", None, None)


@pytest.mark.slow
@needs_chromium
def test_chromium_renders_the_report_with_every_number(
    sample: tuple[OverlapResult, ProfileResult, Contribution], tmp_path: Path
) -> None:
    overlap, profile, shares = sample
    report = write_report(tmp_path / "report.html", overlap, profile, shares, {"epsilon": 1.0})
    png, dom = screenshot_and_dom(report, tmp_path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    page = parse(dom)
    for row in expected_rows(overlap, profile, shares):
        assert row in page.rows, row
