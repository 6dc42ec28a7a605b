"""Profile query benchmark: one owner (a retailer with six attributes) and a brand's list.

Setup: a brand node (querier, holds the Paillier key), a retailer node (owner, the six demo
attributes of ``gongying.demo_profile``) and a coordinator, each its own process on loopback
(``gongying.launch.LocalProcesses``, ``workers = 2`` each). Emails are ``user{i}@example.com``:
the brand holds ``0..brand_size-1``, the owner starts at ``brand_size // 2``, so the brand's
second half is in the owner's list (when the owner is at least that big).

Measured and printed:

* set-up times (not part of any query): data generation, the brand node's start including its
  Paillier key generation (the key is made at first start), the other starts;
* end-to-end wall time of ``CoordinatorClient.profile`` (around the call, channel connected):
  COLD - the first query after the coordinator starts, its mask pool empty, so every indicator
  mask is generated inside the query; WARM - a second identical query after the coordinator's
  background refill has finished (we poll the CPU use of the coordinator's process tree with
  psutil until it stays below 5 % of one core for 3 s, capped at 300 s; if psutil cannot see it
  we sleep owner_size / 3000 s, capped at 300). The difference is roughly the mask generation.
  The coordinator's own ``seconds`` for each query is printed too, and its ``phase_seconds``:
  when each step finished, counted from the query's start (the owner's list, matching,
  indicator encryption and the owner's aggregation stream through together, so the steps
  overlap; blinding is done when the querier set and the owner's list are through);
* bytes on the wire, payload only (no protobuf / gRPC / HTTP/2 framing): indicators are
  owner rows x ciphertext width (2 x bits / 8 bytes); 32-byte ristretto255 points travel
  3 times for each of the brand's elements (brand -> coordinator -> owner -> coordinator) and
  3 times for each owner element (owner -> coordinator -> brand -> coordinator);
  the aggregate and the decryption request (a few dozen ciphertexts) are left out;
* per-operation costs of plain ``phe`` versus ours at the same modulus, from
  ``bench.paillier_ops.measure(bits, sample=50)`` (one core): encryption vs our mask generation,
  ciphertext additions, decryption vs our CRT decryption, as ratios.

Check: the overlap per owner equals the exact overlap of the generated sets, and every
categorical bin and numeric count/sum equals what pandas computes on the matched rows.
Exit status 1 if anything differs.

Run from the repository root::

    .venv/bin/python -m bench.profile                  # 20k owner, 5k brand, 2048-bit
    .venv/bin/python -m bench.profile --bits 3072
    .venv/bin/python -m bench.profile --full           # 1M owner, 100k brand (long)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # `python bench/profile.py`: make the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.paillier_ops import measure
from client.sdk import CoordinatorClient
from connectors.source_spec import SourceSpec
from gongying.demo_profile import ATTRIBUTES, CATEGORICAL, DEMO_ATTRIBUTES, NUMERIC
from gongying.launch import LocalProcesses, free_port
from runtime.config_writer import coordinator_table, node_table, write_toml

POINT_BYTES = 32
QUERIER, OWNER = "brand", "retailer"
WORKERS = 2


# --------------------------------------------------------------------------- data and configs


def email_range(start: int, stop: int) -> pd.Series:
    return pd.Series([f"user{i}@example.com" for i in range(start, stop)], name="email")


def write_data(
    data: Path, owner_size: int, brand_size: int, seed: int
) -> tuple[Path, Path, pd.DataFrame, int]:
    """brand.csv and owner.csv; returns the owner frame and the exact overlap."""
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    brand_path, owner_path = data / "brand.csv", data / "owner.csv"
    email_range(0, brand_size).to_frame().to_csv(brand_path, index=False)
    start = brand_size // 2
    columns: dict[str, Any] = {"email": email_range(start, start + owner_size)}
    for name, domain in CATEGORICAL.items():
        columns[name] = rng.choice(domain, owner_size)
    for name, (lower, upper, scale) in NUMERIC.items():
        # whole multiples of 1/scale (cents for spend), so the fixed-point sums are exact
        steps = rng.integers(round(lower * scale), round(upper * scale) + 1, owner_size)
        columns[name] = steps / scale if scale != 1 else steps
    owner = pd.DataFrame(columns)
    owner.to_csv(owner_path, index=False)
    brand_ids = set(range(brand_size))
    overlap = len(brand_ids & set(range(start, start + owner_size)))
    return brand_path, owner_path, owner, overlap


def write_configs(
    root: Path, brand_csv: Path, owner_csv: Path, bits: int
) -> dict[str, tuple[Path, str]]:
    """node and coordinator TOML files on free loopback ports: name -> (config, address)."""
    configs = root / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}
    key_file = (root / "brand.paillier.json").resolve()
    for party, csv_path in ((QUERIER, brand_csv), (OWNER, owner_csv)):
        address = f"127.0.0.1:{free_port()}"
        source = SourceSpec(kind="csv", path=str(csv_path.resolve()))
        table = node_table(
            party,
            address,
            source,
            {"email": "email"},
            workers=WORKERS,
            default_region="CN",
            attributes=DEMO_ATTRIBUTES if party == OWNER else (),
            paillier_key=key_file if party == QUERIER else None,
            paillier_bits=bits if party == QUERIER else None,
        )
        out[party] = (write_toml(configs / f"{party}.toml", table), address)
    address = f"127.0.0.1:{free_port()}"
    parties = {party: out[party][1] for party in (QUERIER, OWNER)}
    table = coordinator_table(address, parties, workers=WORKERS)
    path = write_toml(configs / "coordinator.toml", table)
    out["coordinator"] = (path, address)
    return out


# --------------------------------------------------------------------------- checks


def check(result: Any, owner: pd.DataFrame, brand_size: int, overlap: int) -> list[str]:
    """Differences between the answer and the truth computed from the generated data."""
    found: list[str] = []
    got = result.profile(OWNER)
    if got.overlap != overlap:
        found.append(f"overlap {got.overlap} != exact {overlap}")
    index = owner["email"].str.slice(4).str.split("@").str[0].astype(np.int64)
    matched = owner[index < brand_size]
    for name, domain in CATEGORICAL.items():
        counts = matched[name].value_counts()
        bins = dict(got.categorical.get(name, {}))
        for value in domain:
            if int(bins.get(value, 0)) != int(counts.get(value, 0)):
                found.append(f"{name}[{value}] {bins.get(value, 0)} != {int(counts.get(value, 0))}")
    for name in NUMERIC:
        stats = got.numeric[name]
        count, total = len(matched), float(matched[name].sum())
        if stats.count != count or not math.isclose(stats.sum, total, rel_tol=1e-9, abs_tol=1e-6):
            found.append(f"{name} count/sum {stats.count}/{stats.sum} != {count}/{total}")
    return found


# --------------------------------------------------------------------------- waiting for the refill


def wait_refill(pid: int, owner_size: int, cap: float = 300.0) -> tuple[float, str]:
    """Block until the coordinator's process tree is idle; returns (seconds waited, method)."""
    started = time.monotonic()
    try:
        import psutil

        root = psutil.Process(pid)
        quiet = 0
        time.sleep(0.5)  # let the refill thread start
        while time.monotonic() - started < cap:
            procs = [root, *root.children(recursive=True)]
            before = {}
            for p in procs:
                try:
                    t = p.cpu_times()
                    before[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
            time.sleep(1.0)
            used = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                    used += t.user + t.system - before.get(p.pid, t.user + t.system)
                except psutil.Error:
                    pass
            quiet = quiet + 1 if used < 0.05 else 0
            if quiet >= 3:
                break
        return time.monotonic() - started, "polled coordinator CPU (<5% of a core for 3 s)"
    except ImportError:
        delay = min(owner_size / 3000, cap)
        time.sleep(delay)
        return delay, f"slept owner_size/3000 = {delay:.1f} s"


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    if args.full:
        owner_size, brand_size = 1_000_000, 100_000
    else:
        owner_size, brand_size = args.owner_size, args.brand_size
    root = Path(tempfile.mkdtemp(prefix="gongying-bench-profile-"))
    processes = LocalProcesses(root / "logs")
    report: dict[str, Any] = {
        "owner_size": owner_size,
        "brand_size": brand_size,
        "bits": args.bits,
        "attributes": list(ATTRIBUTES),
    }
    failures: list[str] = []
    try:
        t = time.perf_counter()
        brand_csv, owner_csv, owner, overlap = write_data(
            root / "data", owner_size, brand_size, args.seed
        )
        report["setup_data_s"] = time.perf_counter() - t
        report["exact_overlap"] = overlap
        configs = write_configs(root, brand_csv, owner_csv, args.bits)

        t = time.perf_counter()
        processes.start(QUERIER, "node", configs[QUERIER][0], configs[QUERIER][1], timeout=900.0)
        report["setup_brand_start_with_keygen_s"] = time.perf_counter() - t
        t = time.perf_counter()
        processes.start(OWNER, "node", configs[OWNER][0], configs[OWNER][1], timeout=300.0)
        processes.start("coordinator", "coordinator", *configs["coordinator"], timeout=300.0)
        report["setup_owner_and_coordinator_start_s"] = time.perf_counter() - t
        coordinator_pid = processes.processes["coordinator"].pid

        with CoordinatorClient(configs["coordinator"][1]) as client:
            for label in ("cold", "warm"):
                if label == "warm":
                    waited, how = wait_refill(coordinator_pid, owner_size)
                    report["refill_wait_s"], report["refill_wait_method"] = waited, how
                t = time.perf_counter()
                result = client.profile(QUERIER, [OWNER], list(ATTRIBUTES), id_type="email")
                report[f"{label}_wall_s"] = time.perf_counter() - t
                report[f"{label}_coordinator_s"] = result.seconds
                report[f"{label}_overlap"] = result.profile(OWNER).overlap
                report[f"{label}_phases"] = dict(result.phases)
                failures += [f"{label}: {d}" for d in check(result, owner, brand_size, overlap)]
    finally:
        processes.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")

    width = 2 * args.bits // 8
    indicator_bytes = owner_size * width
    point_bytes = 3 * (brand_size + owner_size) * POINT_BYTES
    report["wire_indicator_bytes"] = indicator_bytes
    report["wire_point_bytes"] = point_bytes
    report["wire_total_bytes"] = indicator_bytes + point_bytes
    report["cold_minus_warm_s"] = report["cold_wall_s"] - report["warm_wall_s"]

    ops = measure(args.bits, args.sample)
    report["paillier_ops"] = ops
    report["ratio_mask_vs_phe_encrypt"] = ops["ours_masks_per_s"] / ops["phe_encrypt_per_s"]
    report["ratio_add_ours_vs_phe"] = ops["ours_add_per_s"] / ops["phe_add_per_s"]
    report["ratio_decrypt_crt_vs_phe"] = ops["ours_crt_decrypt_per_s"] / ops["phe_decrypt_per_s"]
    report["check"] = failures if failures else "ok"

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report, width)
    return 0 if not failures else 1


def _print(r: dict[str, Any], width: int) -> None:
    mib = 1024 * 1024
    ops = r["paillier_ops"]

    def row(label: str, value: str) -> None:
        print(f"  {label:<34}{value}")

    print(
        f"profile query: owner {r['owner_size']:,} rows x {len(r['attributes'])} attributes, "
        f"brand {r['brand_size']:,}, Paillier {r['bits']} bits"
    )
    print("set-up (outside queries)")
    row("data generation", f"{r['setup_data_s']:8.2f} s")
    row("brand node start incl. key gen", f"{r['setup_brand_start_with_keygen_s']:8.2f} s")
    row("owner node + coordinator start", f"{r['setup_owner_and_coordinator_start_s']:8.2f} s")
    print("end to end (CoordinatorClient.profile; coordinator's own seconds in brackets)")
    row("COLD mask pool", f"{r['cold_wall_s']:8.2f} s  ({r['cold_coordinator_s']:.2f})")
    row("refill wait", f"{r['refill_wait_s']:8.2f} s  [{r['refill_wait_method']}]")
    row("WARM mask pool", f"{r['warm_wall_s']:8.2f} s  ({r['warm_coordinator_s']:.2f})")
    row("cold - warm (~ mask generation)", f"{r['cold_minus_warm_s']:8.2f} s")
    for label in ("cold", "warm"):
        print(f"  {label} query, seconds since its start when each step finished:")
        for step, seconds in r[f"{label}_phases"].items():
            row(f"  {step}", f"{seconds:8.2f} s")
    print("bytes on the wire (payload)")
    row(
        f"indicators {r['owner_size']:,} x {width} B", f"{r['wire_indicator_bytes'] / mib:8.1f} MiB"
    )
    row(
        f"points 3 x {r['brand_size'] + r['owner_size']:,} x 32 B",
        f"{r['wire_point_bytes'] / mib:8.1f} MiB",
    )
    row("total", f"{r['wire_total_bytes'] / mib:8.1f} MiB")
    print(
        f"per operation, one core, {ops['bits']} bits, sample {ops['sample']} "
        "(ops/s; ratio ours / phe)"
    )
    for label, phe_key, ours_key, ours_name, ratio in (
        ("encrypt", "phe_encrypt_per_s", "ours_masks_per_s", "our masks", "mask_vs_phe_encrypt"),
        ("add", "phe_add_per_s", "ours_add_per_s", "ours", "add_ours_vs_phe"),
        (
            "decrypt",
            "phe_decrypt_per_s",
            "ours_crt_decrypt_per_s",
            "ours CRT",
            "decrypt_crt_vs_phe",
        ),
    ):
        print(
            f"  {label + ':':<9}phe {ops[phe_key]:10.1f}  {ours_name:<9} {ops[ours_key]:10.1f}"
            f"  ratio {r['ratio_' + ratio]:6.2f}x"
        )
    print(
        f"check: overlap cold {r['cold_overlap']:,} warm {r['warm_overlap']:,} "
        f"exact {r['exact_overlap']:,}; bins and numeric sums vs pandas: "
        + ("OK" if r["check"] == "ok" else "DIFFERS")
    )
    if r["check"] != "ok":
        for line in r["check"]:
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owner-size", type=int, default=20_000)
    parser.add_argument("--brand-size", type=int, default=5_000)
    parser.add_argument("--full", action="store_true", help="1M owner members, 100k brand list")
    parser.add_argument("--bits", type=int, default=2048, choices=(2048, 3072))
    parser.add_argument("--sample", type=int, default=50, help="sample for the per-op costs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    sys.exit(run(args))


if __name__ == "__main__":
    main()
