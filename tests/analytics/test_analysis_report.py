"""The lift and contribution report sections: every language has every string, and Chromium
renders the page with each number, in English and Chinese."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from client.contribution_scores import ContributionScores, Measured
from client.lift import CampaignLift
from gongying.analysis_report import TEXT, contribution_section, lift_section, write_page
from model.results import ProfileResult
from tests.analytics.test_lift import _profile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def sample() -> tuple[CampaignLift, ContributionScores]:
    values = np.arange(400, dtype=float)
    answers = [
        ProfileResult(q, "brand", ("retailer_a",), ("spend",), (_profile(values[i::2], None),))
        for i, q in enumerate(("q-exposed", "q-holdout"))
    ]
    lift = CampaignLift("group", "exposed", "holdout", ("spend",), *answers)
    measured = (
        Measured("retailer_a", "reach", 400.0, 0.0, "overlap q-overlap"),
        Measured("retailer_b", "reach", 300.0, 0.0, "overlap q-overlap"),
    )
    scores = ContributionScores(
        "brand", ("retailer_a", "retailer_b"), "weights.toml", {"reach": 1.0}, measured
    )
    return lift, scores


def test_every_language_has_every_string() -> None:
    assert set(TEXT) == {"en", "zh-CN"}
    assert set(TEXT["en"]) == set(TEXT["zh-CN"])
    lift, _ = sample()
    with pytest.raises(ValueError, match="language 'fr' is not one of en, zh-CN"):
        lift_section(lift, "fr")


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no `chromium` binary; install it with `apt-get install -y chromium` (see .ci/run)",
)
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_chromium_renders_both_sections(lang: str, tmp_path: Path) -> None:
    lift, scores = sample()
    page = write_page(
        tmp_path / "page.html", [lift_section(lift, lang), contribution_section(scores, lang)], lang
    )
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--window-size=1280,1400"]  # fmt: skip
    shot = tmp_path / "page.png"
    run = subprocess.run(
        [*base, f"--user-data-dir={tmp_path / 'p1'}", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run(
        [*base, f"--user-data-dir={tmp_path / 'p2'}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    words = TEXT[lang]
    frame = lift.to_frame().iloc[0]
    for expected in (
        words["lift_title"],
        words["contribution_title"],
        f"{frame['exposed']:,.0f}&nbsp;±&nbsp;",  # even people 0..398: 199 per member, ± bar
        "q-exposed",
        "q-overlap",
        "0.571",  # retailer_a's share of reach, 400 / 700
    ):
        assert expected in dom, expected
