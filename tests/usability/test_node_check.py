"""Each node.toml mistake from issue 14, caught by `gongying node check` and by `node serve`
before it binds: one `error:` line naming the file, table and key, and the fix; no traceback."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.usability.conftest import Shared, assert_refused, gongying, write_node

pytestmark = pytest.mark.slow  # the gongying command as subprocesses


def check(path: Path) -> tuple[str, ...]:
    return ("node", "check", "--config", str(path))


def test_the_correct_config_is_ready(shared: Shared, tmp_path: Path) -> None:
    path = write_node(tmp_path, shared.node_text(), shared.policy_text())
    outcome = gongying(*check(path))
    assert outcome.code == 0, outcome.stderr
    assert outcome.errors == []
    assert f"node config {path}: ready to serve" in outcome.stderr


TYPOS = [
    # (the correct text, the mistyped text, its table, the unknown key, the key suggested)
    ("workers = 1", "worker = 1", "", "worker", "workers"),
    ('table = "members"', 'tabel = "members"', " [source]", "tabel", "table"),
    (
        'kind = "categorical"',
        'kind = "categorical"\ncolum = "age"',
        " [attributes.age_band]",
        "colum",
        "",
    ),
    ("signing_key = ", "signing_kye = ", "", "signing_kye", "signing_key"),
    ("audit_log = ", "audit_lg = ", "", "audit_lg", "audit_log"),
    (
        'default_region = "CN"',
        'default_regoin = "CN"',
        " [normalisation]",
        "default_regoin",
        "default_region",
    ),
    (
        "coordinator_identity = ",
        "coordinator_identty = ",
        "",
        "coordinator_identty",
        "coordinator_identity",
    ),
]


@pytest.mark.parametrize(("right", "wrong", "table", "key", "suggested"), TYPOS)
def test_an_unknown_key_is_refused_with_the_nearest_key(
    shared: Shared, tmp_path: Path, right: str, wrong: str, table: str, key: str, suggested: str
) -> None:
    text = shared.node_text()
    assert right in text
    path = write_node(tmp_path, text.replace(right, wrong, 1), shared.policy_text())
    line = assert_refused(gongying(*check(path)), f"{path}{table}: unknown key {key!r}")
    if suggested:
        assert line.endswith(f"did you mean {suggested!r}?"), line
    else:
        assert "known keys: domain, kind, lower, scale, upper" in line, line


def test_serve_refuses_before_binding_with_the_same_line(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace("workers = 1", "worker = 1")
    path = write_node(tmp_path, text, shared.policy_text())
    outcome = gongying("node", "serve", "--config", str(path))
    assert_refused(outcome, f"{path}: unknown key 'worker'; did you mean 'workers'?")
    assert "serving" not in outcome.stdout


def test_serve_reports_every_problem_and_never_binds(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace('email = "email"', 'email = "emial"')
    path = write_node(tmp_path, text, shared.policy_text(("age_band", "gender")))
    outcome = gongying("node", "serve", "--config", str(path))
    assert_refused(outcome, f"{path} [identifiers].email: column 'emial'")
    assert_refused(outcome, "'gender' is allowed but", "(declared: age_band)")
    assert len(outcome.errors) == 2, outcome.stderr
    assert "serving" not in outcome.stdout
    assert not (tmp_path / "retailer.audit.db").exists()  # nothing opened, nothing served


def test_an_unreadable_database_url(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace(str(shared.database), "/no/such/folder/members.db")
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(
        gongying(*check(path)),
        f"{path} [source].url: cannot read sql sqlite:////no/such/folder/members.db",
        "unable to open database file",
    )


def test_a_url_sqlalchemy_cannot_load(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace(f"sqlite:///{shared.database}", "oracel://db/members")
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(gongying(*check(path)), f"{path} [source].url: cannot read", "oracel")


def test_postgres_scheme_gets_the_dialect_hint(shared: Shared, tmp_path: Path) -> None:
    url = "postgres://crm:s3cret@db.internal:5432/members"
    text = shared.node_text().replace(f"sqlite:///{shared.database}", url)
    path = write_node(tmp_path, text, shared.policy_text())
    line = assert_refused(
        gongying(*check(path)), f"{path} [source].url: postgres://", "write postgresql+psycopg://"
    )
    assert "s3cret" not in line


def _postgres_reachable() -> bool:
    try:
        psycopg.connect(POSTGRES.replace("+psycopg", ""), connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.mark.skipif(
    not _postgres_reachable(), reason="no PostgreSQL at 127.0.0.1:5432 (user postgres)"
)
def test_a_wrong_postgresql_table(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace(f"sqlite:///{shared.database}", POSTGRES)
    text = text.replace('table = "members"', 'table = "gy_no_such_members"')
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(
        gongying(*check(path)),
        f"{path} [source].table: no table 'gy_no_such_members' in sql {POSTGRES}",
    )


def test_an_unreachable_postgresql_masks_the_password(shared: Shared, tmp_path: Path) -> None:
    url = "postgresql+psycopg://gy:s3cret@127.0.0.1:1/members"
    text = shared.node_text().replace(f"sqlite:///{shared.database}", url)
    path = write_node(tmp_path, text, shared.policy_text())
    outcome = gongying(*check(path))
    assert_refused(
        outcome, f"{path} [source].url: cannot read sql postgresql+psycopg://gy:***@127.0.0.1:1"
    )
    assert "s3cret" not in outcome.stderr


def test_a_wrong_table_suggests_the_nearest(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace('table = "members"', 'table = "member"')
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(
        gongying(*check(path)),
        f"{path} [source].table: no table 'member' in sql sqlite:///{shared.database}",
        "did you mean 'members'?",
    )


def test_a_wrong_identifier_column_suggests_the_nearest(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace('email = "email"', 'email = "e_mail"')
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(
        gongying(*check(path)),
        f"{path} [identifiers].email: column 'e_mail' is not in sql sqlite:///{shared.database}",
        "did you mean 'email'? (columns: email, phone, age_band)",
    )


def test_a_missing_attribute_column(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text() + '\n[attributes.gender]\nkind = "categorical"\ndomain = ["f"]\n'
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(gongying(*check(path)), f"{path} [attributes.gender]: column 'gender' is not")


def test_a_missing_csv_file(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace(
        f'kind = "sql"\nurl = "sqlite:///{shared.database}"\ntable = "members"',
        'kind = "csv"\npath = "absent.csv"',
    )
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(gongying(*check(path)), f"{path} [source].path: {tmp_path / 'absent.csv'}")


def test_a_missing_partner_key_file(shared: Shared, tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "brand.sign.pub"
    path = write_node(tmp_path, shared.node_text(), shared.policy_text(brand_key=str(missing)))
    assert_refused(
        gongying(*check(path)),
        f"{tmp_path / 'policy.toml'} [partners.brand].signing_key: key file {missing}",
        "copy the partner's brand.sign.pub there",
    )


def test_a_missing_own_signing_key(shared: Shared, tmp_path: Path) -> None:
    own = str(shared.certs.parties["retailer"].sign_key)
    text = shared.node_text().replace(own, str(tmp_path / "retailer.sign.key"))
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(gongying(*check(path)), f"{path}.signing_key: key file", "certs init")


def test_a_policy_attribute_the_config_never_declares(shared: Shared, tmp_path: Path) -> None:
    path = write_node(tmp_path, shared.node_text(), shared.policy_text(("age_band", "age_bands")))
    assert_refused(
        gongying(*check(path)),
        f"{tmp_path / 'policy.toml'} [partners.brand].attributes: 'age_bands' is allowed but "
        f"{path} declares no [attributes.age_bands]",
        "did you mean 'age_band'?",
    )


def test_another_partys_tls_key(shared: Shared, tmp_path: Path) -> None:
    retailer_key = str(shared.certs.parties["retailer"].key)
    brand_key = str(shared.certs.parties["brand"].key)
    text = shared.node_text().replace(f'key = "{retailer_key}"', f'key = "{brand_key}"')
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(
        gongying(*check(path)),
        f"{path} [tls].key: {brand_key} is not the private key of certificate",
    )


def test_a_certificate_from_another_ca(shared: Shared, tmp_path: Path) -> None:
    theirs = shared.other_certs.parties["retailer"]
    ours = shared.certs.parties["retailer"]
    text = shared.node_text().replace(str(ours.cert), str(theirs.cert))
    text = text.replace(f'key = "{ours.key}"', f'key = "{theirs.key}"')
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(gongying(*check(path)), f"{path} [tls].cert: {theirs.cert} is not signed by")


def test_a_bad_source_kind_keeps_its_location(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text().replace('kind = "sql"', 'kind = "excel"')
    path = write_node(tmp_path, text, shared.policy_text())
    assert_refused(gongying(*check(path)), f"{path} [source].kind: 'excel' is not one of")


def test_a_broken_config_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('party = "retailer"\n[source\n')
    assert_refused(gongying(*check(path)), f"config file {path} is not valid TOML")
    assert_refused(gongying(*check(tmp_path / "absent.toml")), "does not exist")


def test_locations_in_brackets_are_printed(shared: Shared, tmp_path: Path) -> None:
    """Table names in brackets survive the terminal renderer (they once printed blank)."""
    text = shared.node_text().partition("[tls]")[0]
    policy = shared.policy_text().replace("min_cohort = 5\n", "")
    path = write_node(tmp_path, text, policy)
    outcome = gongying(*check(path))
    assert_refused(outcome, f"{path}: no [tls] table (ca, cert, key)", "gongying certs init")
    assert_refused(
        outcome, "[partners.brand]: missing key 'min_cohort' (set it here or in [defaults])"
    )
