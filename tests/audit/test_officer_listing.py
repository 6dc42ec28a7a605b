"""`audit list` prefixes and widths on ids that share long prefixes, through typer's CliRunner:
a prefix is never ambiguous in the log, `audit show` refuses an ambiguous one in one line, and
long values wrap within the width instead of being cut."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gongying.audit_cli import audit_app
from runtime.audit import open_audit_log
from tests.audit.conftest import make_record

runner = CliRunner()
IDS = (
    "3f2a1c9e-0000-4000-8000-000000000001",
    "3f2a1c9e-7000-4000-8000-000000000002",
    "b0b0b0b0-0000-4000-8000-000000000003",
)


def _log(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    long_error = "node retailer_b timed out after " + "waiting " * 30 + "for its set"
    with open_audit_log(str(path), "retailer_a") as log:
        log.append(make_record(1, query_id=IDS[0]))
        log.append(make_record(3, query_id=IDS[1], error=long_error))
        log.append(make_record(4, query_id=IDS[2], requester="brand_" + "x" * 90))
    return path


def test_prefixes_are_unique_in_the_whole_log_and_show_accepts_them(tmp_path: Path) -> None:
    path = _log(tmp_path)
    # listing only the first record still cuts its id where no other id of the log shares it
    listed = runner.invoke(
        audit_app,
        ["list", "--log", str(path), "--until", "2025-03-01T09:02"],
        env={"COLUMNS": "80"},
    )
    assert listed.exit_code == 0, listed.output
    assert " 3f2a1c9e-0 " in listed.output and IDS[0] not in listed.output
    shown = runner.invoke(audit_app, ["show", "3f2a1c9e-0", "--log", str(path), "--json"])
    assert shown.exit_code == 0 and IDS[0] in shown.output and IDS[1] not in shown.output
    ambiguous = runner.invoke(audit_app, ["show", "3f2a1c9e", "--log", str(path)])
    assert ambiguous.exit_code == 2
    assert ambiguous.output.strip().count("\n") == 0
    assert "matches 2 queries" in ambiguous.output and "give more of it" in ambiguous.output


def test_long_values_wrap_within_the_width_and_nothing_is_cut(tmp_path: Path) -> None:
    path = _log(tmp_path)
    for width in (80, 60):
        listed = runner.invoke(audit_app, ["list", "--log", str(path)], env={"COLUMNS": str(width)})
        assert listed.exit_code == 0, listed.output
        lines = listed.output.splitlines()
        assert all(len(line) <= width for line in lines), lines
        joined = "".join(line.strip() for line in lines)
        assert "waiting" * 30 in joined.replace(" ", "")  # the whole error, wrapped
        assert "brand_" + "x" * 90 in joined
        assert "a_only=4" in joined and "all=104" in joined and "4 suppressed" in joined
