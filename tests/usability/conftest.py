"""A correct node and coordinator config (certificates, SQLite members, policy) that each test
breaks in one way, and the `gongying` command run as an operator runs it: a subprocess.

The shared files are made once per session; a test writes its own variant of the config into
its own folder, so tests pass alone and in any order.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.certs import CertSet, init_certs

REPO = Path(__file__).resolve().parents[2]
GONGYING = REPO / ".venv" / "bin" / "gongying"
PARTIES = ("brand", "retailer")
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
ROWS = 40


def email(person: int) -> str:
    return f"member{person:04d}@example.cn"


@dataclass(frozen=True)
class Shared:
    """Files every variant points at: certificates, a second CA's, members in SQLite and CSV."""

    root: Path
    certs: CertSet
    other_certs: CertSet
    database: Path
    members_csv: Path

    def cert(self, party: str) -> tuple[Path, Path]:
        files = self.certs.parties[party]
        return files.cert, files.key

    def policy_text(self, attributes: tuple[str, ...] = ("age_band",), brand_key: str = "") -> str:
        key = brand_key or str(self.certs.parties["brand"].sign_pub)
        listed = ", ".join(f'"{a}"' for a in attributes)
        return f"""[defaults]
query_kinds = ["overlap", "profile"]
id_types = ["email"]
min_cohort = 5
min_counterparty_set = 1
queries_per_day = 1000
exact = true  # the tests compare exact answers: the explicit opt-in, with its k >= 5

[partners.brand]
signing_key = "{key}"
attributes = [{listed}]
"""

    def node_text(self, party: str = "retailer", listen: str = "127.0.0.1:0") -> str:
        """A node.toml that `node check` accepts: SQLite source labelled "crm", mutual TLS."""
        cert, key = self.cert(party)
        return f"""party = "{party}"
listen = "{listen}"
workers = 1
policy = "policy.toml"
signing_key = "{self.certs.parties[party].sign_key}"
audit_log = "{party}.audit.db"
coordinator_identity = "coordinator"

[source]
kind = "sql"
url = "sqlite:///{self.database}"
table = "members"
label = "crm"

[identifiers]
email = "email"

[normalisation]
default_region = "CN"

[attributes.age_band]
kind = "categorical"
domain = ["18-24", "25-34", "35-44", "45+"]

[tls]
ca = "{self.certs.ca}"
cert = "{cert}"
key = "{key}"
"""

    def coordinator_text(self, listen: str = "127.0.0.1:0") -> str:
        cert, key = self.cert("coordinator")
        return f"""listen = "{listen}"
workers = 0
audit_log = "coordinator.audit.db"

[parties]
brand = "127.0.0.1:1"
retailer = "127.0.0.1:2"

[tls]
ca = "{self.certs.ca}"
cert = "{cert}"
key = "{key}"
"""


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    root = tmp_path_factory.mktemp("usability")
    certs = init_certs(root / "certs", list(PARTIES))
    other = init_certs(root / "other-ca", list(PARTIES))
    database = root / "members.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE members (email TEXT, phone TEXT, age_band TEXT)")
        connection.executemany(
            "INSERT INTO members VALUES (?, ?, ?)",
            [(email(n), f"1380000{n:04d}", AGE_BANDS[n % 4]) for n in range(ROWS)],
        )
    members_csv = root / "brand.csv"
    with members_csv.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email"])
        writer.writerows([email(n)] for n in range(0, 2 * ROWS, 2))
    return Shared(root, certs, other, database, members_csv)


@dataclass(frozen=True)
class Outcome:
    """What an operator sees: exit code and both streams."""

    code: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        """The `error:` lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def gongying(*args: str, timeout: float = 60) -> Outcome:
    """Run the installed `gongying` command as an operator would."""
    done = subprocess.run(
        [str(GONGYING), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "80"},
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def write_node(folder: Path, text: str, policy: str) -> Path:
    """node.toml (and its policy.toml next to it) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.toml").write_text(policy)
    path = folder / "node.toml"
    path.write_text(text)
    return path


def assert_refused(outcome: Outcome, *expected: str) -> str:
    """Non-zero exit, no traceback, and an `error:` line holding every `expected` fragment."""
    assert outcome.code != 0, outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stderr, outcome.stderr
    matching = [line for line in outcome.errors if all(e in line for e in expected)]
    assert matching, f"no error line with {expected} in:\n{outcome.stderr}"
    return matching[0]
