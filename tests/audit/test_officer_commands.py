"""A data officer's commands on the logs and ledgers of a real governed deployment (mTLS gRPC,
signed queries): `audit list` at 80 columns and --wide, times and statuses, `audit report`
per partner (text, CSV, HTML) against an oracle computed from the records and the ledger, and
`budget show` against the ledger's own numbers; the querier's own record of a profile."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from client.sdk import QueryError
from model.results import ProfileResult
from node.ledger_schema import MICROS_PER_DAY, charges_table, utc_time
from runtime.audit import StoredRecord, open_audit_log
from tests.governance_grpc.conftest import (
    BRAND,
    POLICIES,
    RETAILER_A,
    RETAILER_B,
    Governed,
    deploy,
)

pytestmark = pytest.mark.slow  # a governed deployment and the officer CLI as subprocesses

ATTRIBUTES = ["age_band", "gender"]
# retailer_a answers brand's profiles noised at k 1 with little noise (epsilon 4 a query; it
# shares 9 members with brand, so bins are released), and retailer_b's overlaps noised (0.5 of
# 1.5 per period) as in the governed deployment
OFFICER_POLICIES = {
    **POLICIES,
    RETAILER_A: POLICIES[RETAILER_A].replace(
        'attributes = ["age_band", "gender"]\nexact = true',
        'attributes = ["age_band", "gender"]\nmin_cohort = 1\nepsilon_per_query = 4.0\n'
        "epsilon_per_period = 40.0",
    ),
}


@dataclass
class Officer:
    """The deployment after a day's queries, and what each query was."""

    governed: Governed
    profile: ProfileResult
    profile_id: str
    refused: dict[str, str]  # query id -> the rule retailer_a refused it under
    noised: list[str]


def _refused(governed: Governed, run: str) -> str:
    query_id = str(uuid.uuid4())
    with governed.client(BRAND) as client, pytest.raises(QueryError):
        if run == "attribute":
            client.profile(BRAND, [RETAILER_A], ["age_band", "income"], query_id=query_id)
        else:
            client.overlap([BRAND, RETAILER_A], id_type="phone", query_id=query_id)
    return query_id


@pytest.fixture(scope="module")
def officer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Officer]:
    assert OFFICER_POLICIES[RETAILER_A] != POLICIES[RETAILER_A]
    governed = deploy(tmp_path_factory.mktemp("officer"), OFFICER_POLICIES)
    try:
        profile_id = str(uuid.uuid4())
        with governed.client(BRAND) as client:
            profile = client.profile(BRAND, [RETAILER_A], ATTRIBUTES, query_id=profile_id)
        refused = {
            _refused(governed, "attribute"): "partners.brand.attributes",
            _refused(governed, "id_type"): "partners.brand.id_types",
        }
        noised = [str(uuid.uuid4()), str(uuid.uuid4())]
        with governed.client(RETAILER_B) as client:
            client.overlap([RETAILER_B, RETAILER_A], query_id=noised[0])
            client.overlap([RETAILER_B, RETAILER_A, BRAND], query_id=noised[1])
        yield Officer(governed, profile, profile_id, refused, noised)
    finally:
        governed.stop()


def gongying(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "gongying", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def records(officer: Officer, party: str) -> list[StoredRecord]:
    with open_audit_log(str(officer.governed.log_path(party))) as log:
        return list(log.records())


def test_audit_list_fits_80_columns_with_reasons_attributes_and_released_values(
    officer: Officer,
) -> None:
    log = str(officer.governed.log_path(RETAILER_A))
    listed = gongying("audit", "list", "--log", log)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    text = listed.stdout
    assert officer.profile_id not in text  # shortened, and said so
    assert f" {officer.profile_id[:8]} " in text and "audit show" in text
    assert "attributes: age_band, gender" in text
    overlap = officer.profile.profile(RETAILER_A).overlap
    assert overlap is not None
    assert f"{RETAILER_A}={overlap}" in text.replace("\n      ", "")
    for rule in officer.refused.values():
        assert f"reason: {rule}" in text
    assert f"{len(records(officer, RETAILER_A))} records" in lines[-1]
    # the prefix it printed is accepted by `audit show`
    shown = gongying("audit", "show", officer.profile_id[:8], "--log", log, "--json")
    assert shown.returncode == 0, shown.stderr
    assert {row["query_id"] for row in json.loads(shown.stdout)} == {officer.profile_id}
    wide = gongying("audit", "list", "--log", log, "--wide")
    assert wide.returncode == 0 and officer.profile_id in wide.stdout
    rows = [line.split("\t") for line in wide.stdout.splitlines()]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert len(rows) == 1 + len(records(officer, RETAILER_A))  # a header, then every record


def test_since_and_until_take_dates_and_spans_and_a_bad_status_is_refused(
    officer: Officer,
) -> None:
    log = str(officer.governed.log_path(RETAILER_A))
    every = len(records(officer, RETAILER_A))
    today = records(officer, RETAILER_A)[0].record.time.date().isoformat()

    def count(*args: str) -> int:
        done = gongying("audit", "list", "--log", log, "--json", *args)
        assert done.returncode == 0, done.stderr
        return len(json.loads(done.stdout))

    assert count("--since", "24h") == every
    assert count("--since", "7d", "--until", today) == every  # a date includes its whole day
    assert count("--until", today + "T00:00") == 0
    assert count("--since", "2999-01-01") == 0
    assert count("--status", "refused") == len(officer.refused)
    for bad, named in (
        (["--status", "denied"], "allowed, failed, refused, released"),
        (["--since", "yesterday"], "7d"),
        (["--since", "1d", "--until", "2d"], "before --since"),
    ):
        done = gongying("audit", "list", "--log", log, *bad)
        assert done.returncode == 2 and done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert named in done.stderr and "Traceback" not in done.stderr


def _oracle(officer: Officer) -> dict[str, dict[str, object]]:
    """Per requester, from retailer_a's records directly: the last record of each query."""
    last = {s.record.query_id: s.record for s in records(officer, RETAILER_A)}
    out: dict[str, dict[str, object]] = {}
    for record in last.values():
        row = out.setdefault(record.requester, {"decisions": Counter(), "epsilon": 0.0,
                                                 "attributes": Counter(), "reasons": Counter(),
                                                 "released": {}})  # fmt: skip
        row["decisions"][record.decision] += 1  # type: ignore[index]
        row["epsilon"] += record.epsilon  # type: ignore[operator]
        row["attributes"].update(record.attributes)  # type: ignore[attr-defined]
        if record.decision == "refused":
            row["reasons"][record.rule] += 1  # type: ignore[index]
        if record.decision == "released":
            row["released"][record.query_id] = record.released  # type: ignore[index]
    return out


def test_report_per_partner_matches_the_log_and_the_ledger(
    officer: Officer, tmp_path: Path
) -> None:
    governed = officer.governed
    config = str(governed.root / f"{RETAILER_A}.toml")
    out_csv, out_html = tmp_path / "report.csv", tmp_path / "report.html"
    done = gongying("audit", "report", "--since", "1d", "--config", config,
                    "--csv", str(out_csv), "--html", str(out_html))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout
    oracle = _oracle(officer)
    rows = {row["partner"]: row for row in csv.DictReader(io.StringIO(out_csv.read_text()))}
    assert set(rows) == set(oracle) == {BRAND, RETAILER_B}
    ledger = governed.ledger(RETAILER_A)
    for partner, expected in oracle.items():
        row, decisions = rows[partner], expected["decisions"]
        assert isinstance(decisions, Counter)
        assert int(row["queries"]) == sum(decisions.values())
        assert (int(row["released"]), int(row["refused"]), int(row["failed"])) == (
            decisions["released"], decisions["refused"], decisions["failed"]
        )  # fmt: skip
        assert json.loads(row["refusal_reasons"]) == dict(expected["reasons"])  # type: ignore[call-overload]
        assert json.loads(row["attributes"]) == dict(expected["attributes"])  # type: ignore[call-overload]
        assert json.loads(row["released_values"]) == expected["released"]
        assert float(row["epsilon_charged_log"]) == pytest.approx(expected["epsilon"])
        usage = ledger.usage(partner)
        assert float(row["epsilon_charged_ledger"]) == pytest.approx(usage.spent)
        assert float(row["epsilon_left"]) == pytest.approx(
            usage.budget - usage.spent - usage.reserved
        )
    # retailer_b's two noised overlaps were charged 0.5 each; brand's exact queries nothing
    assert float(rows[RETAILER_B]["epsilon_charged_log"]) == pytest.approx(1.0)
    assert float(rows[RETAILER_B]["epsilon_left"]) == pytest.approx(0.5)
    assert json.loads(rows[BRAND]["refusal_reasons"]) == Counter(officer.refused.values())
    assert "partners.brand.attributes x1" in done.stdout
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and officer.profile_id in page
    for fetch in ("<script", "src=", "href=", "@import", "url("):
        assert fetch not in page  # self-contained: nothing to fetch


def test_budget_show_matches_the_ledgers_own_numbers(officer: Officer) -> None:
    governed = officer.governed
    config = str(governed.root / f"{RETAILER_A}.toml")
    done = gongying("budget", "show", "--config", config, "--json")
    assert done.returncode == 0, done.stderr
    shown = {item["partner"]: item for item in json.loads(done.stdout)}
    ledger = governed.ledger(RETAILER_A)
    assert set(shown) == set(ledger.policy.partners)
    engine = create_engine(f"sqlite:///{governed.root / f'{RETAILER_A}.ledger.db'}")
    with engine.connect() as conn:
        charges = conn.execute(select(charges_table)).all()
    engine.dispose()
    for partner, item in shown.items():
        usage = ledger.usage(partner)
        assert (item["queries_last_24h"], item["epsilon_spent"], item["epsilon_reserved"]) == (
            usage.queries_today, usage.spent, usage.reserved
        )  # fmt: skip
        assert item["epsilon_left"] == pytest.approx(usage.budget - usage.spent - usage.reserved)
        assert item["epsilon_per_period"] == usage.budget
        paid = [c for c in charges if c.partner == partner and c.nano_epsilon > 0]
        if not paid:
            assert item["next_charge_falls_out"] is None
            continue
        oldest = min(paid, key=lambda c: c.admitted_us)
        period = ledger.policy.terms(partner).period_days * MICROS_PER_DAY
        assert item["next_charge_falls_out"] == utc_time(oldest.admitted_us + period).isoformat()
        assert item["next_charge_epsilon"] == oldest.nano_epsilon / 10**9
    assert shown[RETAILER_B]["epsilon_spent"] == pytest.approx(1.0)
    text = gongying("budget", "show", "--config", config)
    assert text.returncode == 0 and all(len(line) <= 80 for line in text.stdout.splitlines())
    assert "left 0.5 of 1.5" in text.stdout
    unknown = gongying("budget", "show", "--config", config, "--partner", "nobody")
    assert unknown.returncode == 2 and "its partners: brand, retailer_b" in unknown.stderr


def test_every_party_records_what_a_profile_released_and_the_querier_its_attributes(
    officer: Officer,
) -> None:
    profile = officer.profile.profile(RETAILER_A)
    expected = {RETAILER_A: profile.overlap}
    for attribute, bins in profile.categorical.items():
        expected |= {f"{RETAILER_A}/{attribute}/{b}": n for b, n in bins.items() if n is not None}
    assert len(expected) > 1  # some bins were released beside the overlap
    for party in (BRAND, RETAILER_A, "coordinator"):
        kept = officer.governed.records(party, officer.profile_id)
        assert [r.record.decision for r in kept] == ["released"], (party, kept)
        record = kept[0].record
        assert record.attributes == tuple(ATTRIBUTES), party
        assert {k: v for k, v in record.released.items() if k.startswith(RETAILER_A)} == expected


def test_the_readme_audit_examples_run_as_written(officer: Officer) -> None:
    """The README "Audit" block, run in the node's folder; only the example prefix is replaced
    by one of this log's queries."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n### Audit\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = block.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line.split("#", 1)[0]) for line in lines if line.strip()]
    assert [c[:3] for c in commands] == [["gongying", "audit", "list"]] * 2 + [
        ["gongying", "audit", "show"], ["gongying", "audit", "report"],
        ["gongying", "budget", "show"],
    ]  # fmt: skip
    for words in commands:
        words = [officer.profile_id[:8] if w == "3f2a1c9e" else w for w in words]
        done = subprocess.run(
            [sys.executable, "-m", "gongying", *words[1:]],
            cwd=officer.governed.root,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "80"},
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (words, done.stderr)
        assert done.stdout.strip(), words
    assert (officer.governed.root / "march.html").is_file()
