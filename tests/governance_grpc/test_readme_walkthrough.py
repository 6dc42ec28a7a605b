"""README "Three parties from zero", followed as written: its commands run as subprocesses, its
TOML copied with only ports and data adjusted (the data files are generated here)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gongying.launch import LocalProcesses, free_port
from runtime.audit import load_public_key, open_audit_log
from runtime.tls import TLSFiles
from tests.governance_grpc.conftest import PARTIES, write_data

README = Path(__file__).resolve().parents[2] / "README.md"
README_PORTS = {"coordinator": 50050, "brand": 50051, "retailer_a": 50052, "retailer_b": 50053}


def walkthrough() -> tuple[list[str], list[str]]:
    """The section's bash and TOML code blocks, in order."""
    text = README.read_text()
    section = text.split("### Three parties from zero", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    return [b for kind, b in blocks if kind == "bash"], [b for kind, b in blocks if kind == "toml"]


def commands(block: str) -> list[list[str]]:
    """Shell lines of a block: continuations joined, comments dropped, split into words."""
    joined = block.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            found.append(words)
    return found


def run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert words[0] == "gongying", words
    return subprocess.run(
        [sys.executable, "-m", "gongying", *words[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_three_parties_from_zero(tmp_path: Path) -> None:
    bash, toml = walkthrough()
    assert len(bash) == 2 and len(toml) == 4, "the walkthrough's shape changed; update this test"
    node_toml, paillier_toml, policy_toml, coordinator_toml = toml
    ports = {name: free_port() for name in README_PORTS}

    def local(text: str) -> str:
        for name, port in README_PORTS.items():
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{ports[name]}")
        return text

    # 1. certificates
    (certs_init,) = commands(bash[0])
    done = run(certs_init, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "certs" / "retailer_a.sign.key").exists()

    # 2. data (the user's own; here 300 members each, brand ∩ retailer_a = 9) and configs
    write_data(tmp_path)
    for party in PARTIES:
        config = node_toml.replace("retailer_a", party).replace(
            "127.0.0.1:50052", f"127.0.0.1:{README_PORTS[party]}"
        )
        if party == "brand":
            config += "\n" + paillier_toml
        (tmp_path / f"{party}.toml").write_text(local(config))
    # retailer_a's policy as shown; retailer_b's likewise; brand's lists retailer_a
    (tmp_path / "retailer_a.policy.toml").write_text(policy_toml)
    (tmp_path / "retailer_b.policy.toml").write_text(policy_toml)
    (tmp_path / "brand.policy.toml").write_text(policy_toml.replace("brand", "retailer_a"))
    (tmp_path / "coordinator.toml").write_text(local(coordinator_toml))

    # 3. serve, query, audit
    probe = TLSFiles(
        tmp_path / "certs" / "ca.pem",
        tmp_path / "certs" / "brand.pem",
        tmp_path / "certs" / "brand.key",
    )
    processes = LocalProcesses(tmp_path / "logs")
    steps = commands(local(bash[1]))
    outputs: list[subprocess.CompletedProcess[str]] = []
    try:
        for words in steps:
            if words[2:3] == ["serve"]:
                role, first = words[1], Path(words[4]).stem
                names = [first]
                if role == "node":  # "and brand.toml, retailer_b.toml"
                    names = [p for p in PARTIES if p != first] + names
                with ThreadPoolExecutor(max_workers=len(names)) as threads:  # start together
                    starting = [
                        threads.submit(
                            processes.start,
                            name,
                            role,
                            tmp_path / f"{name}.toml",
                            f"127.0.0.1:{ports[name]}",
                            tls=probe,
                            server_name=name,
                        )
                        for name in names
                    ]
                    for future in starting:
                        future.result()
                continue
            if words[1:3] == ["audit", "verify"]:  # every party's log, as the comment says
                for party in (*PARTIES, "coordinator"):
                    each = [w.replace("retailer_a", party) for w in words]
                    outputs.append(run(each, tmp_path))
                continue
            outputs.append(run(words, tmp_path))
    finally:
        processes.stop()
    allowed, refused, *audits = outputs
    assert allowed.returncode == 0, allowed.stderr
    assert "brand" in allowed.stdout and "retailer_a" in allowed.stdout
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "attribute income is not allowed for brand" in message
    assert "PERMISSION_DENIED" in message
    assert len(audits) == 5  # four verifications, one reconciliation
    for audit in audits:
        assert audit.returncode == 0, (audit.args, audit.stdout, audit.stderr)
    for verified in audits[:4]:
        assert verified.stdout.startswith("ok: ")
    assert "2 queries" in audits[4].stdout

    # after a clean stop every log ends in a signed checkpoint and still verifies
    for party in (*PARTIES, "coordinator"):
        with open_audit_log(str(tmp_path / f"{party}.audit.db")) as log:
            report = log.verify(load_public_key(tmp_path / "certs" / f"{party}.sign.pub"))
        assert report.ok and report.checkpoints >= 1, (party, report)
