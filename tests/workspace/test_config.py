"""Schedules and dashboard keys in coordinator.toml: slots on the clock, and one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coordinator.check import check_coordinator
from coordinator.config import load_coordinator_config
from coordinator.dashboard_config import Rule
from coordinator.dashboard_users import check_password, hash_password, load_users, set_user
from coordinator.schedules import Schedule
from gongying.cli import app
from runtime.config_file import ConfigError

BASE = """listen = "127.0.0.1:0"
insecure_plaintext = true
[parties]
brand = "127.0.0.1:50051"
retailer_a = "127.0.0.1:50052"
"""
OVERLAP = '[schedules.s]\nevery = "daily"\nkind = "overlap"\nparties = ["brand", "retailer_a"]\n'


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "day", "now", "slot"),
    [
        ("daily", 1, "2026-03-10T02:00", "2026-03-10T02:00"),
        ("daily", 1, "2026-03-10T01:59", "2026-03-09T02:00"),
        ("weekly", 1, "2026-03-10T05:00", "2026-03-09T02:00"),  # a Tuesday: Monday's slot
        ("weekly", 2, "2026-03-10T01:00", "2026-03-03T02:00"),
        ("monthly", 1, "2026-03-01T01:00", "2026-02-01T02:00"),
        ("monthly", 15, "2026-01-10T00:00", "2025-12-15T02:00"),
        ("monthly", 28, "2026-03-28T02:00", "2026-03-28T02:00"),
    ],
)
def test_the_slot_is_the_latest_period_started(every: str, day: int, now: str, slot: str) -> None:
    schedule = Schedule("s", every, "overlap", ("a", "b"), "a", day=day)
    assert schedule.slot(at(now)) == at(slot)


def load(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(BASE + extra)
    load_coordinator_config(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (OVERLAP.replace("every", "evry"), "unknown key 'evry'; did you mean 'every'?"),
        (OVERLAP.replace('"daily"', '"hourly"'), "every: 'hourly' is not one of daily"),
        (OVERLAP.replace("retailer_a", "retailer_z"), "unknown party 'retailer_z'"),
        (OVERLAP + 'at = "25:00"\n', "at: '25:00' is not a time of day HH:MM"),
        (OVERLAP + 'querier = "x"\n', "querier: 'x' is not one of the schedule's parties"),
        (OVERLAP.replace('"daily"', '"monthly"') + "day = 31\n", "day is 1 to 28, got 31"),
        (
            '[schedules.p]\nevery = "daily"\nkind = "profile"\nowners = ["retailer_a"]\n'
            'attributes = ["age_band"]\n',
            "missing key 'querier'",
        ),
        ('[dashboard]\nlisten = "127.0.0.1:0"\n', "[dashboard]: missing key 'users'"),
        (
            '[dashboard]\nlisten = "127.0.0.1:0"\nusers = "u.toml"\nlang = "fr"\n',
            "lang: 'fr' is not one of en, zh-CN",
        ),
        (
            '[dashboard]\nlisten = "127.0.0.1:0"\nusers = "u.toml"\n[dashboard.budgets]\nx = 1\n',
            "unknown party 'x'",
        ),
        (
            '[dashboard]\nlisten = "1:0"\nusers = "u"\n[dashboard.head_keys]\nbrnd = "k.pub"\n',
            "[head_keys]: unknown party 'brnd'",
        ),
        (
            '[dashboard]\nlisten = "1:0"\nusers = "u"\n[dashboard.scorecard.refusal_rte]\n',
            "unknown key 'refusal_rte'; did you mean 'refusal_rate'?",
        ),
        (
            '[dashboard]\nlisten = "1:0"\nusers = "u"\n[dashboard.scorecard.refusal_rate]\n'
            'better = "lower"\ngreen = 0.5\namber = 0.1\n',
            "amber (0.1) must be above green (0.5) when lower is better",
        ),
    ],
)
def test_a_mistake_is_one_line_naming_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(tmp_path / "coordinator.toml") in str(caught.value)


def test_history_defaults_next_to_the_config_and_only_when_used(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(BASE)
    assert load_coordinator_config(path).history is None
    path.write_text(BASE + OVERLAP)
    assert load_coordinator_config(path).history == str(tmp_path / "coordinator.history.db")


def test_check_names_a_missing_users_file_and_a_bad_signing_key(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(
        BASE + OVERLAP + 'signing_key = "none.key"\n'
        '[dashboard]\nlisten = "127.0.0.1:0"\nusers = "users.toml"\n'
        '[dashboard.head_keys]\nbrand = "brand.sign.pub"\n'
    )
    problems = check_coordinator(path)
    assert any("[schedules.s].signing_key" in p for p in problems), problems
    assert any("[dashboard].users" in p and "does not exist" in p for p in problems), problems
    assert any("[dashboard.head_keys].brand" in p for p in problems), problems
    set_user(tmp_path / "users.toml", "ops", "a long enough password")
    assert not any("[dashboard].users" in p for p in check_coordinator(path))


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert check_password("same password", first) and not check_password("same passw0rd", first)
    assert not check_password("same password", "scrypt$garbage")


def test_rules_rate_in_both_directions() -> None:
    lower, higher = Rule("lower", 0.05, 0.2), Rule("higher", 0.5, 0.2)
    assert [lower.rate(v) for v in (0.01, 0.05, 0.1, 0.3, None)] == [
        "green",
        "green",
        "amber",
        "red",
        "none",
    ]
    assert [higher.rate(v) for v in (0.9, 0.5, 0.3, 0.1)] == ["green", "green", "amber", "red"]


def test_the_cli_sets_a_user_and_refuses_a_short_password(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    command = ["coordinator", "dashboard-user", "--users", str(users), "ops", "--password-stdin"]
    short = CliRunner().invoke(app, command, input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    done = CliRunner().invoke(app, command, input="a long enough password\n")
    assert done.exit_code == 0, done.output
    assert check_password("a long enough password", load_users(users)["ops"])
    assert users.stat().st_mode & 0o777 == 0o600


def test_the_readmes_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Schedules, history and the health dashboard")[1]
    example = section.split("```toml\n")[1].split("```")[0]
    path = tmp_path / "coordinator.toml"
    path.write_text(
        'listen = "127.0.0.1:0"\ninsecure_plaintext = true\n'
        + example
        + "\n[parties]\n"
        + "".join(
            f'{p} = "127.0.0.1:{50051 + i}"\n'
            for i, p in enumerate(("brand", "retailer_a", "retailer_b"))
        )
    )
    config = load_coordinator_config(path)
    assert [s.name for s in config.schedules] == ["monthly_overlap"]
    assert config.dashboard is not None and config.dashboard.lang == "zh-CN"
    assert config.dashboard.rules["refusal_rate"].rate(0.1) == "amber"
