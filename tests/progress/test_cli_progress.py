"""Progress bars in the CLI: drawn on stderr when it is a terminal (forced here with
GONGYING_PROGRESS=1), nothing extra when piped or with --no-progress; stdout JSON stays clean."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from coordinator.server import CoordinatorServer
from gongying.cli import app
from gongying.demo_data import RETAILERS
from gongying.demo_profile import ATTRIBUTES
from gongying.progress_view import FORCE_ENV, ProgressView, progress_bars, progress_console
from model.progress import OPEN, OVERLAP_STEPS, PROFILE_STEPS, ROUTING, QueryProgress, StepProgress
from tests.progress.conftest import PARTIES

pytestmark = pytest.mark.slow  # runs queries on a deployment through a terminal


def _overlap_args(coordinator: CoordinatorServer, *extra: str) -> list[str]:
    return [
        "query",
        "overlap",
        "--coordinator",
        coordinator.address,
        "--parties",
        ",".join(PARTIES),
        "--json",
        *extra,
    ]


def test_view_renders_every_step_with_counts() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with ProgressView(console, "overlap") as view:
        view.update(QueryProgress("q", (StepProgress(OPEN, 1, 3), StepProgress(ROUTING, 0, 0))))
        view.update(QueryProgress("q", (StepProgress(OPEN, 3, 3), StepProgress(ROUTING, 450, 900))))
        view.update(
            QueryProgress("q", (StepProgress(OPEN, 3, 3), StepProgress(ROUTING, 900, 900)), True)
        )
    text = out.getvalue()
    assert "overlap: open sessions" in text and "overlap: blinding and routing" in text
    assert "900/900" in text and "3/3" in text


def test_progress_console_follows_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FORCE_ENV, raising=False)
    if not sys.stderr.isatty():
        assert progress_console() is None  # piped: no bars
    monkeypatch.setenv(FORCE_ENV, "1")
    assert progress_console() is not None
    assert progress_console(disabled=True) is None  # --no-progress
    monkeypatch.setenv(FORCE_ENV, "0")
    assert progress_console() is None
    with progress_bars(None, "overlap") as callback:
        assert callback is None


def test_overlap_bars_on_a_terminal(
    coordinator: CoordinatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORCE_ENV, "1")
    result = CliRunner().invoke(app, _overlap_args(coordinator))
    assert result.exit_code == 0, result.stderr
    for step in OVERLAP_STEPS:
        assert f"overlap: {step}" in result.stderr
    answer = json.loads(result.stdout)  # stdout is the JSON object alone
    assert answer["parties"] == PARTIES
    assert "blinding" not in result.stdout


def test_profile_bars_on_a_terminal(
    coordinator: CoordinatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORCE_ENV, "1")
    args = ["query", "profile", "--coordinator", coordinator.address, "--querier", "brand"]
    args += ["--owners", ",".join(RETAILERS), "--attributes", ",".join(ATTRIBUTES), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    for step in PROFILE_STEPS:
        assert f"profile: {step}" in result.stderr
    assert json.loads(result.stdout)["querier"] == "brand"


@pytest.mark.parametrize("extra", [(), ("--no-progress",)])
def test_no_bars_when_piped_or_turned_off(
    coordinator: CoordinatorServer, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]
) -> None:
    if extra:
        monkeypatch.setenv(FORCE_ENV, "1")  # a terminal, but --no-progress
    else:
        monkeypatch.delenv(FORCE_ENV, raising=False)  # CliRunner's stderr is not a terminal
    result = CliRunner().invoke(app, _overlap_args(coordinator, *extra))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["parties"] == PARTIES


@pytest.mark.slow
def test_piped_command_prints_no_progress(coordinator: CoordinatorServer) -> None:
    """The real command with stdout and stderr piped: plain output, no bars or escapes."""
    env = {k: v for k, v in os.environ.items() if k != FORCE_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "gongying", *_overlap_args(coordinator)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "\x1b" not in done.stdout
    assert json.loads(done.stdout)["parties"] == PARTIES


@pytest.mark.slow
def test_demo_draws_bars_on_stderr_only() -> None:
    env = {**os.environ, FORCE_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-m", "gongying", "demo", "--members", "200", "--insecure-plaintext"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in OVERLAP_STEPS:
        assert f"overlap: {step}" in done.stderr
    for step in PROFILE_STEPS:
        assert f"profile: {step}" in done.stderr
    assert "routing" not in done.stdout and "plaintext truth" in done.stdout
