"""Tables, report and JSON tell `<k` from `suppressed` and print every noised number's error bar."""

from __future__ import annotations

import json
from dataclasses import replace

from rich.console import Console

from gongying.render import print_overlap, print_profile
from gongying.report import render_report
from model.results import ErrorBar, OverlapResult, ProfileResult, ReleaseInfo
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile, with_suppressed
from wire.coordinator_serde import overlap_from_proto, overlap_to_proto

BARS = tuple(
    ErrorBar(table, "discrete_laplace", 0.5, 2, 4.0, cells, half)
    for table, cells, half in (
        ("regions", 1, 11.0),
        ("set_sizes", 4, 25.0),
        ("pairwise", 2, 17.0),
        ("all_parties", 1, 11.0),
    )
)


def noised_overlap() -> OverlapResult:
    result = overlap_from_sets(demo_sets())
    release = ReleaseInfo(k=10, epsilon=0.5, suppressed=1, error_bars=BARS)
    return with_suppressed(replace(result, release=release), ("brand", "retailer_b"))


def exact_overlap() -> OverlapResult:
    result = overlap_from_sets(demo_sets())
    release = ReleaseInfo(k=10, suppressed=2, protective=("regions/brand+retailer_a",))
    return with_suppressed(
        replace(result, release=release), ("brand", "retailer_a"), ("brand", "retailer_b")
    )


def text_of(result: OverlapResult | ProfileResult) -> str:
    console = Console(record=True, width=200)
    if isinstance(result, OverlapResult):
        print_overlap(result, console)
    else:
        print_profile(result, console)
    return console.export_text()


def test_terminal_tables_print_error_bars_under_noise() -> None:
    result = noised_overlap()
    text = text_of(result)
    size = result.set_sizes["brand"]
    assert f"{size:,} ± 25" in text
    assert f"{result.region('brand'):,} ± 11" in text
    assert "<10" in text and "suppressed" not in text.split("release:")[0]
    assert "regions: discrete_laplace, epsilon 0.5, sensitivity 2, scale 4" in text


def test_terminal_and_report_label_protective_cells_suppressed_and_small_ones_below_k() -> None:
    result = exact_overlap()
    text = text_of(result)
    row = next(line for line in text.splitlines() if "brand & retailer_a only" in line)
    assert "suppressed" in row and "<10" not in row
    row = next(line for line in text.splitlines() if "brand & retailer_b only" in line)
    assert "<10" in row and "suppressed" not in row
    page = render_report(result, None)
    assert "region brand &amp; retailer_a is hidden to protect others (shown suppressed)" in page
    assert "region brand &amp; retailer_b is below k (shown &lt;10)" in page


def test_json_and_grpc_carry_error_bars_and_protective_names() -> None:
    for result in (noised_overlap(), exact_overlap()):
        document = json.loads(json.dumps(result.to_json()))
        again = OverlapResult.from_json(document)
        assert again.release == result.release
        assert overlap_from_proto(overlap_to_proto(result)).release == result.release
    document = noised_overlap().to_json()["release"]
    assert document["error_bars"][1] == {
        "table": "set_sizes",
        "mechanism": "discrete_laplace",
        "epsilon": 0.5,
        "sensitivity": 2,
        "scale": 4.0,
        "noised_cells": 4,
        "half_width": 25.0,
    }
    assert exact_overlap().to_json()["release"]["protective"] == ["regions/brand+retailer_a"]


def test_profile_tables_and_report_print_numeric_error_bars() -> None:
    result = sample_profile()
    owner = result.profiles[0]
    bars = (
        ErrorBar("age_band", "discrete_laplace", 0.1, 1, 10.0, 1, 30.0),
        ErrorBar("spend_12m.mean", "derived", 0.1, 90000, 9e5, 1, 4.5),
    )
    noised = replace(owner, release=ReleaseInfo(k=5, epsilon=0.5, error_bars=bars))
    result = replace(result, profiles=(noised, *result.profiles[1:]))
    text = text_of(result)
    first_bin = next(iter(owner.categorical["age_band"].values()))
    assert f"{first_bin:,} ± 30" in text
    assert f"{owner.numeric['spend_12m'].mean:,.2f} ± 4.50" in text
    page = render_report(None, result)
    assert f"{owner.numeric['spend_12m'].mean:,.2f} ± 4.50" in page
