"""The compose rehearsal without a container engine: the five parties of deploy/compose.yaml as
separate processes on loopback, started from the very config, policy and data files under
deploy/rehearsal/, and the compose `query` / `query-profile` commands run against them.

How compose maps to loopback: compose mounts deploy/rehearsal at /etc/gongying, so every relative
path in the configs resolves the same way in a copy of the folder. The copy gets fresh
certificates from `gongying certs init` (as deploy/rehearsal/README.md says), and exactly one
kind of change: the addresses. `listen = "0.0.0.0:PORT"` becomes `127.0.0.1:<free port>`, and the
coordinator's `[parties]` entries `brand = "brand:50051"` (compose service names) become
`127.0.0.1:<that node's port>`. The TLS names are unchanged: the coordinator still checks that
each node's certificate names its party. The test asserts that no other line differs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gongying.demo import plaintext_truth
from gongying.demo_profile import differences, profile_truths
from gongying.launch import LocalProcesses, free_port
from model.results import OverlapResult, ProfileResult
from runtime.tls import TLSFiles
from tests.deploy.layout import (
    COORDINATOR,
    HEALTHCHECK,
    NODES,
    REHEARSAL,
    overlap_args,
    profile_args,
)

pytestmark = pytest.mark.slow  # the five-party compose rehearsal

LISTEN = re.compile(r'^listen = "0\.0\.0\.0:(\d+)"$')
PARTY_ADDRESS = re.compile(r'^([a-z0-9_]+) = "([a-z0-9_]+):(\d+)"$')


@dataclass(frozen=True)
class Rehearsal:
    """The running copy: its folder and the loopback address of every party."""

    folder: Path
    addresses: dict[str, str]

    def config(self, party: str) -> Path:
        return self.folder / "configs" / f"{party}.toml"

    def gongying(self, args: list[str], timeout: float = 120) -> str:
        """Run the CLI in the copy's folder; its stdout (fails the test on a non-zero exit)."""
        done = subprocess.run(
            [sys.executable, "-m", "gongying", *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"gongying {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def rewrite_addresses(text: str, ports: dict[str, int], listen_port: int) -> str:
    """The config with only its addresses moved to loopback (see the module docstring)."""
    lines = []
    for line in text.splitlines():
        if LISTEN.match(line):
            line = f'listen = "127.0.0.1:{listen_port}"'
        elif (match := PARTY_ADDRESS.match(line)) and match.group(1) in ports:
            party, host, _ = match.groups()
            assert host == party, f"the address of {party} should be its compose service name"
            line = f'{party} = "127.0.0.1:{ports[party]}"'
        lines.append(line)
    return "\n".join(lines) + "\n"


def copy_rehearsal(target: Path) -> Rehearsal:
    """deploy/rehearsal copied to `target` with new certificates, addresses on loopback."""
    shutil.copytree(
        REHEARSAL, target, ignore=shutil.ignore_patterns("certs", "state", "README*", ".git*")
    )
    (target / "state").mkdir()
    ports = {party: free_port() for party in (*NODES, COORDINATOR)}
    for party, port in ports.items():
        path = target / "configs" / f"{party}.toml"
        original = path.read_text()
        rewritten = rewrite_addresses(original, ports, port)
        changed = [
            (old, new)
            for old, new in zip(original.splitlines(), rewritten.splitlines(), strict=True)
            if old != new
        ]
        expected = 1 + (len(NODES) if party == COORDINATOR else 0)
        assert len(changed) == expected, f"{path.name}: only addresses may change, got {changed}"
        assert all("127.0.0.1:" in new for _, new in changed), changed
        path.write_text(rewritten)
    return Rehearsal(target, {party: f"127.0.0.1:{port}" for party, port in ports.items()})


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    running = copy_rehearsal(tmp_path_factory.mktemp("rehearsal") / "rehearsal")
    # the step from deploy/rehearsal/README.md, into the copy
    running.gongying(
        ["certs", "init", "--parties", ",".join(NODES), "--out", str(running.folder / "certs")]
    )
    certs = running.folder / "certs"
    probe = TLSFiles(certs / "ca.pem", certs / "brand.pem", certs / "brand.key")
    processes = LocalProcesses(running.folder / "logs")
    try:
        for party in NODES:
            processes.start(
                party,
                "node",
                running.config(party),
                running.addresses[party],
                tls=probe,
                server_name=party,
            )
        processes.start(
            COORDINATOR,
            "coordinator",
            running.config(COORDINATOR),
            running.addresses[COORDINATOR],
            tls=probe,
            server_name=COORDINATOR,
        )
        yield running
    finally:
        processes.stop()


def data_paths(running: Rehearsal) -> dict[str, Path]:
    return {party: running.folder / "data" / f"{party}.csv" for party in NODES}


@pytest.mark.timeout(180)
def test_overlap_query_of_the_compose_query_service(rehearsal: Rehearsal) -> None:
    args = overlap_args(str(rehearsal.folder), rehearsal.addresses[COORDINATOR])
    result = OverlapResult.from_json(json.loads(rehearsal.gongying([*args, "--json"])))
    truth = plaintext_truth(data_paths(rehearsal), "email")
    released = {frozenset(members): count for members, count in result.regions if count is not None}
    assert released, "every region was suppressed"
    for members, count in released.items():
        assert count == truth.get(members, 0), f"region {sorted(members)}"
    # the big regions are above the policies' k = 10 and must be released
    assert result.region("brand", "retailer_a") == truth[frozenset({"brand", "retailer_a"})]
    assert result.release.k == 10


@pytest.mark.timeout(180)
def test_profile_query_of_the_compose_query_profile_service(rehearsal: Rehearsal) -> None:
    args = profile_args(str(rehearsal.folder), rehearsal.addresses[COORDINATOR])
    result = ProfileResult.from_json(json.loads(rehearsal.gongying([*args, "--json"])))
    assert [p.owner for p in result.profiles][:3] == list(NODES[1:])
    truths = profile_truths(data_paths(rehearsal), "brand", list(NODES[1:]), "email")
    assert differences(result, truths) == []
    # retailer_a's overlap (80) is released exactly unless the exact-mode audit hid it to keep a
    # small bin's feasible interval k wide; then it is labelled `suppressed`, never `<k`
    shared = result.profile("retailer_a")
    if shared.overlap is None:
        assert shared.release.label("overlap") == "suppressed"
    else:
        assert shared.overlap == truths["retailer_a"].matched


def test_the_image_health_probe_passes_for_every_party(rehearsal: Rehearsal) -> None:
    for party in (*NODES, COORDINATOR):
        done = subprocess.run(
            [sys.executable, str(HEALTHCHECK)],
            env={**os.environ, "GONGYING_CONFIG": str(rehearsal.config(party))},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, f"{party}: {done.stderr}"


def test_the_health_probe_fails_for_a_party_that_is_down(tmp_path: Path) -> None:
    config = tmp_path / "down.toml"
    config.write_text(f'party = "brand"\nlisten = "0.0.0.0:{free_port()}"\n')
    done = subprocess.run(
        [sys.executable, str(HEALTHCHECK), str(config)],
        env={**os.environ, "GONGYING_HEALTH_TIMEOUT": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "unhealthy: brand" in done.stderr


def test_every_party_kept_a_verifiable_audit_log(rehearsal: Rehearsal) -> None:
    state, certs = rehearsal.folder / "state", rehearsal.folder / "certs"
    for party in (*NODES, COORDINATOR):
        out = rehearsal.gongying(
            [
                "audit",
                "verify",
                "--log",
                str(state / f"{party}.audit.db"),
                "--public-key",
                str(certs / f"{party}.sign.pub"),
            ]
        )
        assert out.startswith("ok:"), f"{party}: {out}"
