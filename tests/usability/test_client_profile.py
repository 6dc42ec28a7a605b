"""A client profile drives the CLI (a subprocess, as an analyst runs it) and the SDK against a
real mutual-TLS deployment; flags override it; its mistakes are one line naming file and key.
The saved answers make one combined report, and `--csv` holds what `--json` says."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from client.profile import ClientProfileError
from client.sdk import CoordinatorClient
from gongying.launch import free_port
from model.results import OverlapResult
from tests.privacy.conftest import BRAND, PARTIES, Arena, build_arena, invented
from tests.usability.test_readme_examples import members, true_regions

pytestmark = pytest.mark.slow  # the gongying command as subprocesses

REPO = Path(__file__).resolve().parents[2]
GONGYING = REPO / ".venv" / "bin" / "gongying"


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    running = build_arena(tmp_path_factory.mktemp("profile"), exact=True)
    running.brand_list(list(range(0, 600, 3)), invented(50, "profile"))  # every region >= k
    yield running
    running.stop()


def profile_text(coordinator: str, certs: str = "../certs", **changes: str | None) -> str:
    """A client.toml with paths relative to its own folder; `changes` set (None drops) keys."""
    keys: dict[str, str | None] = {
        "coordinator": coordinator,
        "party": BRAND,
        "ca": f"{certs}/ca.pem",
        "cert": f"{certs}/{BRAND}.pem",
        "key": f"{certs}/{BRAND}.key",
        "signing_key": f"{certs}/{BRAND}.sign.key",
    }
    keys.update(changes)
    return "".join(f'{k} = "{v}"\n' for k, v in keys.items() if v is not None)


def write_profile(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "client.toml"
    path.write_text(text)
    return path


def gongying(*args: str, home: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The installed command, with its own (maybe empty) config home."""
    return subprocess.run(
        [str(GONGYING), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "XDG_CONFIG_HOME": str(home), "COLUMNS": "100"},
    )


def assert_released_equal_truth(doc: dict[str, object], arena: Arena) -> None:
    result = OverlapResult.from_json(doc)
    truth = true_regions(members(arena))
    assert all(count is not None for _, count in result.regions)
    for parties, count in result.regions:
        assert count == truth[frozenset(parties)], parties


def test_profile_drives_cli_queries_and_one_combined_report(arena: Arena, tmp_path: Path) -> None:
    profile = write_profile(arena.root / "analyst", profile_text(arena.coordinator.address))
    empty = tmp_path / "no-config"
    parties = ",".join(PARTIES)
    overlap = gongying(
        "query", "overlap", "--profile", str(profile), "--parties", parties, "--json", home=empty
    )
    assert overlap.returncode == 0, overlap.stderr
    assert_released_equal_truth(json.loads(overlap.stdout), arena)

    csv = tmp_path / "profile.csv"
    asked = ("--owners", "retailer_a,retailer_b", "--attributes", "age_band")
    profile_run = gongying(
        "query", "profile", "--profile", str(profile), *asked, "--json", "--csv", str(csv),
        home=empty,
    )  # fmt: skip
    assert profile_run.returncode == 0, profile_run.stderr
    doc = json.loads(profile_run.stdout)
    assert doc["querier"] == BRAND  # the profile's party
    table = pd.read_csv(csv, keep_default_na=False)
    for owner in doc["profiles"]:
        rows = table[table["owner"] == owner["owner"]]
        audience = rows[rows["statistic"] == "overlap"]
        assert audience["value"].tolist() == [owner["overlap"]]
        bins = rows[rows["statistic"] == "members"]
        assert (
            dict(zip(bins["bin"], bins["value"], strict=True)) == owner["categorical"]["age_band"]
        )
        for name, share in zip(bins["bin"], bins["share_of_audience"], strict=True):
            n = owner["categorical"]["age_band"][name]
            assert float(share) == pytest.approx(100 * n / owner["overlap"])
        assert set(bins["status"]) == {"released"}

    saved = {"overlap.json": overlap.stdout, "profile.json": profile_run.stdout}
    for name, text in saved.items():
        (tmp_path / name).write_text(text)
    report = tmp_path / "combined.html"
    combined = gongying(
        "report", str(tmp_path / "profile.json"), str(tmp_path / "overlap.json"),
        "--out", str(report), home=empty,
    )  # fmt: skip
    assert combined.returncode == 0, combined.stderr
    page = report.read_text(encoding="utf-8")
    for heading in ("Overlap on email", "Audience profile", "Contribution to the shared audience"):
        assert heading in page
    assert doc["query_id"] in page and json.loads(overlap.stdout)["query_id"] in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "<dd>False</dd>" not in page


def test_default_profile_is_read_and_flags_override_it(arena: Arena, tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    home = tmp_path / "config"
    certs = str(arena.root / "certs")
    write_profile(home / "gongying", profile_text(dead, certs=certs))
    asked = ("query", "overlap", "--parties", ",".join(PARTIES), "--json", "--timeout", "5")
    stale = gongying(*asked, home=home)
    assert stale.returncode != 0 and "Traceback" not in stale.stderr
    assert f"coordinator at {dead} is unreachable" in stale.stderr  # the default profile's
    fixed = gongying(*asked, "--coordinator", arena.coordinator.address, home=home)
    assert fixed.returncode == 0, fixed.stderr
    assert_released_equal_truth(json.loads(fixed.stdout), arena)
    wrong_cert = gongying(
        *asked, "--coordinator", arena.coordinator.address,
        "--cert", str(tmp_path / "nowhere.pem"), home=home,
    )  # fmt: skip
    assert wrong_cert.returncode != 0 and "Traceback" not in wrong_cert.stderr
    assert "nowhere.pem" in wrong_cert.stderr  # the flag, not the profile's cert, was used


def test_sdk_from_profile(arena: Arena, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_profile(arena.root / "sdk", profile_text(arena.coordinator.address))
    with CoordinatorClient.from_profile(path) as client:
        result = client.overlap(list(PARTIES))
    assert_released_equal_truth(result.to_json(), arena)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(ClientProfileError, match=r"client\.toml does not exist"):
        CoordinatorClient.from_profile()
    write_profile(
        tmp_path / "gongying", path.read_text().replace("../certs", str(path.parents[1] / "certs"))
    )
    with CoordinatorClient.from_profile() as client:  # the default profile
        profile = client.profile(BRAND, ["retailer_a"], ["age_band"])
    shared = members(arena)["retailer_a"]
    brand = set(members(arena)[BRAND]["email"])
    assert profile.profile("retailer_a").overlap == int(shared["email"].isin(brand).sum())


MISTAKES = [
    ("missing", None, ["client profile", "does not exist"]),
    ("toml", "coordinator = \n", ["is not valid TOML"]),
    ("unknown", "singing_key", ["unknown key 'singing_key'", "did you mean 'signing_key'?"]),
    ("file", "cert", ["key 'cert'", "does not exist"]),
    ("together", "no-key", ["key 'key' is missing", "ca, cert and key go together"]),
    ("party", "no-party", ["key 'party' is missing"]),
    ("address", "address", ["key 'coordinator'", "not a HOST:PORT address"]),
]


def broken_profile(folder: Path, kind: str, change: str | None) -> Path:
    if kind == "missing":
        return folder / "absent" / "client.toml"
    if kind == "toml":
        return write_profile(folder, str(change))
    text = profile_text("127.0.0.1:1")
    if kind == "unknown":
        text = text.replace("signing_key =", "singing_key =")
    elif kind == "file":
        text = text.replace(f"{BRAND}.pem", "nobody.pem")
    elif kind == "together":
        text = profile_text("127.0.0.1:1", key=None)
    elif kind == "party":
        text = profile_text("127.0.0.1:1", party=None)
    elif kind == "address":
        text = profile_text("coordinator-without-port")
    return write_profile(folder, text)


@pytest.mark.parametrize(("kind", "change", "expected"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_profile_mistake_is_one_line_naming_file_and_key(
    arena: Arena, tmp_path: Path, kind: str, change: str | None, expected: list[str]
) -> None:
    folder = arena.root / f"broken-{kind}"
    path = broken_profile(folder, kind, change)
    run = gongying(
        "query", "overlap", "--profile", str(path), "--parties", "brand,retailer_a",
        home=tmp_path,
    )  # fmt: skip
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert len(errors) == 1, run.stderr
    assert str(path) in errors[0] and all(e in errors[0] for e in expected), errors[0]
    with pytest.raises(ClientProfileError) as raised:
        CoordinatorClient.from_profile(path)
    assert str(raised.value) == errors[0].removeprefix("error: ")
