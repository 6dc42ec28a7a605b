"""`gongying certs init`: layout, SANs, chain, key permissions, signing keys, refusals."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from client.profile import load_client_profile
from gongying.cli import app
from runtime.certs import CertsError, CertSet, init_certs
from runtime.signing import load_signing_key, load_verify_key
from tests.security.conftest import PARTIES


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_layout_adds_the_coordinator(certs: CertSet) -> None:
    assert set(certs.parties) == {*PARTIES, "coordinator"}
    names = {p.name for p in certs.folder.iterdir()}
    assert {"ca.pem", "ca.key"} <= names
    for party in certs.parties:
        assert {f"{party}.pem", f"{party}.key", f"{party}.sign.key", f"{party}.sign.pub"} <= names


@pytest.mark.parametrize("party", [*PARTIES, "coordinator"])
def test_party_certificate_names_and_chain(certs: CertSet, party: str) -> None:
    ca, cert = _cert(certs.ca), _cert(certs.parties[party].cert)
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [party, "localhost"]
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"


def test_foreign_chain_does_not_verify(certs: CertSet, foreign_certs: CertSet) -> None:
    with pytest.raises(InvalidSignature):
        _cert(foreign_certs.parties["brand"].cert).verify_directly_issued_by(_cert(certs.ca))


def test_private_keys_are_0600_public_files_0644(certs: CertSet) -> None:
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(certs.ca_key) == 0o600
    assert mode(certs.ca) == 0o644
    for files in certs.parties.values():
        assert mode(files.key) == 0o600
        assert mode(files.sign_key) == 0o600
        assert mode(files.cert) == 0o644
        assert mode(files.sign_pub) == 0o644


def test_signing_keys_pair_up(certs: CertSet) -> None:
    files = certs.parties["brand"]
    private, public = load_signing_key(files.sign_key), load_verify_key(files.sign_pub)
    public.verify(private.sign(b"x"), b"x")


def test_existing_files_are_refused_unless_forced(tmp_path: Path) -> None:
    init_certs(tmp_path, ["brand"], days=1)
    before = (tmp_path / "brand.pem").read_bytes()
    with pytest.raises(CertsError, match=r"brand\.pem.*--force"):
        init_certs(tmp_path, ["brand"], days=1)
    assert (tmp_path / "brand.pem").read_bytes() == before
    init_certs(tmp_path, ["brand"], days=1, overwrite=True)
    assert (tmp_path / "brand.pem").read_bytes() != before


@pytest.mark.parametrize("bad", ["Brand", "-x", "a b", "brand/../x", ""])
def test_bad_party_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(CertsError, match="party name"):
        init_certs(tmp_path, [bad])


def test_cli_certs_init(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    result = CliRunner().invoke(
        app, ["certs", "init", "--parties", "brand, retailer_a", "--out", str(out), "--days", "3"]
    )
    assert result.exit_code == 0, result.output
    cert = _cert(out / "retailer_a.pem")
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 3 * 86400 <= lifetime.total_seconds() <= 3 * 86400 + 600
    assert (out / "coordinator.key").exists()
    profile = load_client_profile(out / "client.toml")  # for the first party listed
    assert (profile.party, profile.coordinator) == ("brand", "127.0.0.1:50050")
    assert profile.tls is not None and profile.tls.cert == (out / "brand.pem").resolve()
    assert profile.signing_key == (out / "brand.sign.key").resolve()
    again = CliRunner().invoke(app, ["certs", "init", "--parties", "brand", "--out", str(out)])
    assert again.exit_code == 1
    assert "--force" in again.stderr


def test_cli_certs_init_client_profile_options(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    args = ["certs", "init", "--parties", "brand,retailer_a", "--out", str(out)]
    made = CliRunner().invoke(
        app, [*args, "--client", "retailer_a", "--coordinator", "10.0.0.5:6000"]
    )
    assert made.exit_code == 0, made.output
    profile = load_client_profile(out / "client.toml")
    assert (profile.party, profile.coordinator) == ("retailer_a", "10.0.0.5:6000")
    for bad, message in (
        (["--client", "nobody"], "--client 'nobody' is not one of --parties"),
        (["--coordinator", "no-port"], "--coordinator"),
    ):
        refused = CliRunner().invoke(app, [*args, "--force", *bad])
        assert refused.exit_code == 1 and message in refused.stderr, refused.stderr
