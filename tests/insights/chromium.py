"""Debian's headless chromium for report tests: a screenshot and the rendered DOM of a page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no `chromium` binary; install it with `apt-get install -y chromium` (see .ci/run)",
)


def _chromium(
    tmp_path: Path, profile: str, size: str, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={size}",
        f"--user-data-dir={tmp_path / profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def screenshot_and_dom(page: Path, tmp_path: Path, size: str = "1280,2400") -> tuple[bytes, str]:
    """The page's PNG screenshot (kept in $GONGYING_ARTIFACTS when set) and its DOM as HTML."""
    shot = tmp_path / f"{page.stem}.png"
    _chromium(tmp_path, "profile-shot", size, f"--screenshot={shot}", page.as_uri())
    png = shot.read_bytes()
    keep = os.environ.get("GONGYING_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    dom = _chromium(tmp_path, "profile-dom", size, "--dump-dom", page.as_uri()).stdout
    return png, re.sub(r"<!DOCTYPE[^>]*>", "", dom)
