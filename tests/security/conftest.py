"""Certificates for the security tests: one development CA with its parties, and a foreign CA."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.certs import CertSet, init_certs
from runtime.tls import TLSFiles

PARTIES = ("brand", "retailer_a", "analyst", "intruder")


@pytest.fixture(scope="package")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    return init_certs(tmp_path_factory.mktemp("certs"), list(PARTIES), days=2)


@pytest.fixture(scope="package")
def foreign_certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    """Another CA issuing the same party names: its certificates must be worthless here."""
    return init_certs(tmp_path_factory.mktemp("foreign"), ["brand"], days=2)


def tls_of(certs: CertSet, party: str, ca: Path | None = None) -> TLSFiles:
    """`party`'s TLS files, trusting `ca` (default: the set's own CA)."""
    files = certs.parties[party]
    return TLSFiles(ca or certs.ca, files.cert, files.key)
