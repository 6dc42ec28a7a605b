"""The zh-CN report in headless Chromium: the owners' Chinese labels are in the rendered page, and
Chinese text renders as glyphs, not tofu (needs a CJK font: Debian's fonts-noto-cjk, see .ci/run).

Tofu check: two report headers whose titles differ only in which Chinese characters they hold
are screenshotted. With a CJK font the pixels differ; without one every character is the same
missing-glyph box and the screenshots are identical. The same header screenshotted twice must
be identical, so a difference cannot come from anything else."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from client.insights import contribution
from gongying.report import write_report
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile
from tests.insights.test_report import parse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LABELS = {"zh-CN": {"age_band": "年龄段", "gender": "性别", "gender.female": "女性"}}

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no `chromium` binary; install it with `apt-get install -y chromium` (see .ci/run)",
    ),
    pytest.mark.slow,  # a handful of browser starts
]


def chromium(
    tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / ('profile-' + name)}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def header_shot(tmp_path: Path, name: str, title: str, env: dict[str, str] | None = None) -> str:
    """A screenshot of the report's header (its title in the h1): the PNG's SHA-256."""
    page = write_report(
        tmp_path / f"{name}.html", overlap_from_sets(demo_sets()), None, lang="zh-CN"
    )
    page.write_text(
        page.read_text(encoding="utf-8").replace("<h1>共赢报告</h1>", f"<h1>{title}</h1>"),
        encoding="utf-8",
    )
    png = tmp_path / f"{name}.png"
    shot = f"--screenshot={png}"
    chromium(tmp_path, name, "--window-size=900,60", shot, page.as_uri(), env=env)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return hashlib.sha256(data).hexdigest()


def test_chinese_renders_as_glyphs_not_tofu(tmp_path: Path) -> None:
    first = header_shot(tmp_path, "a", "共赢报告食品饮料")
    again = header_shot(tmp_path, "b", "共赢报告食品饮料")
    other = header_shot(tmp_path, "c", "一线城市母婴用品")
    assert first == again, "the same header rendered twice differs: the check cannot work"
    assert first != other, (
        "two different Chinese titles render identically: no CJK font (tofu); install "
        "fonts-noto-cjk (see .ci/run)"
    )


def test_the_tofu_check_sees_a_missing_font(tmp_path: Path) -> None:
    """With every CJK font hidden from fontconfig, the two titles do render identically: the
    check above fails when the font is missing."""
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        "<selectfont><rejectfont><glob>*CJK*</glob><glob>*cjk*</glob><glob>*Han*</glob>"
        "<glob>*wqy*</glob><glob>*Droid*</glob></rejectfont></selectfont></fontconfig>"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(config)}
    first = header_shot(tmp_path, "x", "共赢报告食品饮料", env)
    other = header_shot(tmp_path, "y", "一线城市母婴用品", env)
    assert first == other


def test_zh_cn_report_shows_the_owners_labels(tmp_path: Path) -> None:
    overlap = overlap_from_sets(demo_sets())
    profile = sample_profile()
    profile = replace(profile, profiles=tuple(replace(p, labels=LABELS) for p in profile.profiles))
    report = write_report(
        tmp_path / "report.html", overlap, profile, contribution(overlap, "brand"), lang="zh-CN"
    )
    screenshot = tmp_path / "report-zh.png"
    chromium(
        tmp_path, "full", "--window-size=1280,2400", f"--screenshot={screenshot}", report.as_uri()
    )
    assert len(screenshot.read_bytes()) > 50_000
    keep = os.environ.get("GONGYING_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / "report-zh.png")
    dom = chromium(tmp_path, "dom", "--dump-dom", report.as_uri())
    page = parse(re.sub(r"<!DOCTYPE[^>]*>", "", dom.stdout))
    text = " ".join(page.text)
    for shown in ("共赢报告", "年龄段", "性别", "受众画像", "两两重合", "数据来源"):
        assert shown in text, shown
    female = profile.profile("retailer_a").categorical["gender"]["female"]
    assert any(row[:2] == ["女性", f"{female:,}"] for row in page.rows)
