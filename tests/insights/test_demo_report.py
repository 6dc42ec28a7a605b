"""`gongying demo --exact --report`: one report with both queries, regions equal to the truth."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest

from gongying.demo import plaintext_truth
from gongying.demo_data import BRAND, RETAILERS
from gongying.report_html import SUPPRESSED

pytestmark = pytest.mark.slow  # runs the whole demo

REPO = Path(__file__).resolve().parents[2]


def test_demo_writes_one_report_with_the_true_regions(tmp_path: Path) -> None:
    report, work = tmp_path / "demo.html", tmp_path / "work"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gongying",
            "demo",
            "--members",
            "200",
            "--exact",  # regions compared with the truth exactly
            "--workdir",
            str(work),
            "--report",
            str(report),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    page = report.read_text(encoding="utf-8")
    paths = {p: work / "data" / f"{p}.csv" for p in (BRAND, *RETAILERS)}
    assert all(path.exists() for path in paths.values()), sorted((work / "data").iterdir())
    truth = plaintext_truth(paths, "email")
    parties = list(paths)
    suppressed = 0
    labels = ["&lt;5", SUPPRESSED]
    for members, count in truth.items():
        name = " & ".join(p for p in parties if p in members)
        dots = "".join(f"<td>{'●' if p in members else ''}</td>" for p in parties)
        row = f"<tr><td>{html.escape(name)}</td>{dots}<td>"
        # the demo's policies hide regions below k = 5 (shown <5) and, in exact mode, what
        # would reveal them (shown suppressed)
        hidden = [f'{row[:-4]}<td class="suppressed">{label}</td></tr>' for label in labels]
        if any(cell in page for cell in hidden):
            assert count >= 5 or hidden[0] in page, name  # a small region is never "suppressed"
            suppressed += 1
            continue
        assert f"{row}{count:,}</td></tr>" in page, name
    assert suppressed < len(truth), "every region suppressed: nothing was checked"
    for heading in (
        "Overlap on email",
        "Contribution to the shared audience",
        "Audience profile",
        '<section id="joint-operations">',  # prospects ranking and complementarity heatmap
        "Provenance",
        "synthetic, seed 7",
    ):
        assert heading in page
    assert "http://" not in page and "https://" not in page
    # provenance in words: no Python booleans (`from cache` reads "no")
    assert "<dd>False</dd>" not in page and "<dd>True</dd>" not in page
    assert "<dt>from cache</dt><dd>no</dd>" in page
