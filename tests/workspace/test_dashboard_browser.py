"""Chromium signs in to the dashboard, sees partners, trends and scorecard, and every chart drawn
by the vendored vega-embed has marks; a wrong password is refused. A screenshot is saved."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.workspace.browser import CHROMIUM, Browser
from tests.workspace.cluster import PARTIES, PASSWORD, USER, Workspace

pytestmark = [
    pytest.mark.slow,  # a deployment and a real browser
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no `chromium` binary; install it with `apt-get install -y chromium` (see .ci/run)",
    ),
]

CHARTS = """JSON.stringify([...document.querySelectorAll('[data-spec]')].map(e => ({
  name: e.getAttribute('data-spec'),
  svg: e.querySelector('svg') !== null,
  failed: e.getAttribute('data-failed'),
  marks: e.querySelectorAll(
    'svg .mark-line path, svg .mark-symbol path, svg .mark-rect path, svg .mark-rule line'
  ).length,
})))"""


def sign_in(browser: Browser, url: str, password: str) -> None:
    browser.goto(f"{url}/login")
    browser.evaluate(
        f"document.getElementById('user').value = {json.dumps(USER)};"
        f"document.getElementById('password').value = {json.dumps(password)};"
        "document.getElementById('submit').click(); true"
    )
    browser.wait_for(
        "document.readyState === 'complete' && "
        "(document.getElementById('sign-in-error') !== null || "
        "document.body.getAttribute('data-charts') === 'ready')"
    )


def test_chromium_signs_in_and_sees_every_chart_drawn(workspace: Workspace, tmp_path: Path) -> None:
    browser = Browser(tmp_path / "profile")
    try:
        sign_in(browser, workspace.url, "wrong password!")
        assert browser.evaluate("document.getElementById('sign-in-error') !== null")
        assert browser.evaluate("document.querySelector('table.partners')") is None

        sign_in(browser, workspace.url, PASSWORD)
        text = browser.evaluate("document.body.innerText")
        for party in PARTIES:
            assert party in text
        assert "Scorecard" in text and "Audience overlap" in text
        charts = json.loads(browser.evaluate(CHARTS))
        names = {chart["name"] for chart in charts}
        assert {"queries", "budget", "overlap", "prospects"} <= names
        assert any(name.startswith("trend-") for name in names)
        for chart in charts:
            assert chart["failed"] is None, chart
            assert chart["svg"] and chart["marks"] > 0, chart
        png = browser.screenshot(tmp_path / "dashboard.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
        keep = os.environ.get("GONGYING_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / "dashboard.png", Path(keep) / "dashboard.png")

        browser.goto(f"{workspace.url}/?lang=zh-CN")
        browser.wait_for("document.body.getAttribute('data-charts') === 'ready'")
        assert "联营健康度仪表盘" in browser.evaluate("document.body.innerText")
    finally:
        browser.close()
