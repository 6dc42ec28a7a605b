"""Two-party overlap: gongying (two nodes + a coordinator over gRPC) versus openmined-psi.

Both systems count the same intersection of two email sets (``user{i}@example.com``; side A is
``0..n-1``, side B is shifted so that ``--overlap`` of it, half by default, is shared with A).

gongying
    Node A, node B and the coordinator each run in their own process (``gongying node|coordinator
    serve``, started with ``gongying.launch.LocalProcesses``), all on loopback, ``--workers``
    blinding processes per node. The wall time is taken around ``CoordinatorClient.overlap`` only
    (after every process reports SERVING and the client channel is connected); it includes the
    nodes reading and normalising their CSV files, which happens inside the query.

openmined-psi
    ``bench.baselines.run_openmined_cardinality`` (cardinality mode, GCS setup message, messages
    serialised and parsed back) in a spawned child process of its own; its wall time is the one
    the baseline measures (set generation excluded).

Reported for each system: wall time, elements/s (elements of both sides / wall), peak RSS per
process in MiB, bytes on the wire per element, and the gongying-vs-openmined ratios. Peak RSS is
the kernel's high-water mark (``VmHWM`` in ``/proc/PID/status``, read just before the processes
stop; it is over the process's whole life, start-up included) next to the maximum that a sampler
thread saw polling the process trees with psutil every ``--sample-interval`` seconds. For
openmined-psi it is the child's own ``getrusage`` peak. CPU seconds (user + system) spent during
the query are reported per process and in total (the baseline is one thread; gongying's nodes run
``--workers`` blinding processes each, so on a machine with few cores compare elements per CPU
second as well as elements per wall second).

Bytes on the wire for gongying, two ways:

* payload: each 32-byte ristretto255 point of party P's set travels node(P) -> coordinator, then
  coordinator -> node -> coordinator once per other party: ``2 * parties - 1`` transfers, i.e. 3 x
  32 bytes per element for two parties (payload only, excluding protobuf, gRPC and HTTP/2 framing);
* measured: every transfer has the coordinator at one end, so the growth of ``bytes_sent +
  bytes_received`` over the coordinator's established TCP sockets during the query (kernel
  ``tcp_info``, read with ``ss -tinp``) counts all of it: TCP payload, i.e. HTTP/2 frames with gRPC
  and protobuf inside, without TCP/IP headers; it includes the client's small request and reply.
  (``/proc/PID/io`` would not do: gRPC uses sendmsg/recvmsg, which ``rchar``/``wchar`` miss.)

openmined-psi's bytes are the serialised setup, request and response messages.

Both counts are checked against the exact intersection; the exit status is 1 if either differs
(openmined's GCS filter may over-count with probability at most ``--fpr``).

Run from the repository root::

    .venv/bin/python -m bench.overlap                 # 100k elements per side
    .venv/bin/python -m bench.overlap --size 20000 --json
    .venv/bin/python -m bench.overlap --million       # 1M per side (minutes, several GiB)
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/overlap.py`: make `bench` and `gongying` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.overlap_tables import print_groups, print_tables
from bench.process_sampling import TreeSampler, tcp_bytes
from client.sdk import CoordinatorClient
from connectors.source_spec import SourceSpec
from gongying.launch import LocalProcesses, free_port
from protocols.group_names import KNOWN_GROUPS, X25519
from runtime.config_writer import coordinator_table, node_table, write_toml

POINT_BYTES = 32
PARTIES = ("a", "b")


# --------------------------------------------------------------------------- the two sets


def make_sets(size: int, shared: int) -> tuple[list[str], list[str]]:
    """Side A is user0..user{size-1}; side B starts `shared` before A's end."""
    side_a = [f"user{i}@example.com" for i in range(size)]
    side_b = [f"user{i}@example.com" for i in range(size - shared, 2 * size - shared)]
    return side_a, side_b


def write_csv(path: Path, emails: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email"])
        writer.writerows([email] for email in emails)


# --------------------------------------------------------------------------- gongying


def run_gongying(
    workdir: Path,
    side_a: list[str],
    side_b: list[str],
    workers: int,
    interval: float,
    group: str = X25519,
) -> dict[str, Any]:
    """Start node A, node B and the coordinator as processes, run one overlap in the PSI group
    `group`, measure it."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    addresses = {party: f"127.0.0.1:{free_port()}" for party in PARTIES}
    for party, emails in zip(PARTIES, (side_a, side_b), strict=True):
        write_csv(data / f"{party}.csv", emails)
        source = SourceSpec(kind="csv", path=str((data / f"{party}.csv").resolve()))
        table = node_table(party, addresses[party], source, {"email": "email"}, workers=workers)
        write_toml(data / f"{party}.toml", table)
    coordinator = f"127.0.0.1:{free_port()}"
    table = coordinator_table(coordinator, addresses, workers=None, deadline_seconds=7200)
    write_toml(data / "coordinator.toml", table)

    processes = LocalProcesses(workdir / "logs")
    sampler: TreeSampler | None = None
    try:
        for party in PARTIES:
            processes.start(f"node-{party}", "node", data / f"{party}.toml", addresses[party])
        processes.start("coordinator", "coordinator", data / "coordinator.toml", coordinator)
        roots = {f"node {p.upper()}": processes.processes[f"node-{p}"].pid for p in PARTIES}
        roots["coordinator"] = processes.processes["coordinator"].pid
        sampler = TreeSampler(roots, interval)
        sampler.start()
        coordinator_pid = roots["coordinator"]

        with CoordinatorClient(coordinator) as client:
            client.parties()  # connect the channel before the clock starts
            cpu_before = sampler.cpu_snapshot()
            tcp_before = tcp_bytes(coordinator_pid)
            started = time.perf_counter()
            result = client.overlap(list(PARTIES), "email", timeout=7200.0, groups=(group,))
            wall = time.perf_counter() - started
            tcp_after = tcp_bytes(coordinator_pid)
            cpu_after = sampler.cpu_snapshot()
        sampler.stop()
        sampler.read_high_water_marks()
        for pid, entry in sampler.stats.items():
            if pid in cpu_before and pid in cpu_after:
                entry.cpu_seconds_in_query = cpu_after[pid] - cpu_before[pid]
    finally:
        if sampler is not None:
            sampler.stop()
        processes.stop()

    elements = len(side_a) + len(side_b)
    hops = 2 * len(PARTIES) - 1
    measured = None
    if tcp_before is not None and tcp_after is not None and tcp_after:
        measured = sum(count - tcp_before.get(key, 0) for key, count in tcp_after.items())
    order = list(sampler.roots)
    processes_out = sorted(
        sampler.stats.values(), key=lambda s: (order.index(s.root), s.label != s.root, s.pid)
    )
    return {
        "system": "gongying",
        "group": group,
        "count": result.all_parties,
        "wall_seconds": wall,
        "coordinator_seconds": result.seconds,
        "elements": elements,
        "elements_per_second": elements / wall,
        "payload_bytes": hops * POINT_BYTES * elements,
        "payload_bytes_per_element": hops * POINT_BYTES,
        "measured_bytes": measured,
        "measured_bytes_per_element": None if measured is None else measured / elements,
        "cpu_seconds": sum(s.cpu_seconds_in_query or 0.0 for s in processes_out),
        "set_sizes": dict(result.set_sizes),
        "processes": [{**asdict(entry), "peak_mib": entry.peak_mib} for entry in processes_out],
    }


# --------------------------------------------------------------------------- openmined-psi


def _openmined_child(size: int, shared: int, fpr: float) -> dict[str, Any]:
    """Runs in a spawned process, so the peak RSS it reports is the baseline's own."""
    from bench.baselines import peak_rss_mb, run_openmined_cardinality

    side_a, side_b = make_sets(size, shared)
    cpu_started = time.process_time()
    result = run_openmined_cardinality(side_a, side_b, fpr=fpr)
    cpu = time.process_time() - cpu_started
    return {**asdict(result), "cpu_seconds": cpu, "peak_mib": peak_rss_mb()}


def run_openmined(size: int, shared: int, fpr: float) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child: dict[str, Any] = pool.apply(_openmined_child, (size, shared, fpr))
    elements = 2 * size
    return {
        "system": "openmined-psi",
        "count": child["count"],
        "wall_seconds": child["seconds"],
        "elements": elements,
        "elements_per_second": child["elements_per_second"],
        "cpu_seconds": child["cpu_seconds"],
        "wire_bytes": child["wire_bytes"],
        "wire_bytes_per_element": child["wire_bytes"] / elements,
        "fpr": fpr,
        "processes": [{"label": "openmined (client + server)", "peak_mib": child["peak_mib"]}],
    }


# --------------------------------------------------------------------------- report


def _group_summary(run: dict[str, Any], om: dict[str, Any]) -> dict[str, float]:
    """Wall and CPU seconds of one group's run, per element, and its ratios to openmined-psi."""
    elements = run["elements"]
    return {
        "wall_seconds": run["wall_seconds"],
        "cpu_seconds": run["cpu_seconds"],
        "cpu_us_per_element": run["cpu_seconds"] / elements * 1e6,
        "openmined_wall_over_this": om["wall_seconds"] / run["wall_seconds"],
        "openmined_cpu_over_this": om["cpu_seconds"] / run["cpu_seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="elements per side")
    parser.add_argument("--million", action="store_true", help="1,000,000 elements per side")
    parser.add_argument("--overlap", type=float, default=0.5, help="fraction of a side shared")
    parser.add_argument("--workers", type=int, default=2, help="blinding processes per node")
    parser.add_argument("--fpr", type=float, default=1e-9, help="openmined GCS false-positive rate")
    parser.add_argument("--sample-interval", type=float, default=0.2, help="RSS sampling, seconds")
    parser.add_argument("--workdir", type=Path, help="keep configs, data and logs here")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--group",
        choices=(*KNOWN_GROUPS, "all"),
        default=X25519,
        help="PSI group of gongying's run; all: one run per group, ratios between them",
    )
    args = parser.parse_args()
    size = 1_000_000 if args.million else args.size
    if size < 1 or not 0.0 <= args.overlap <= 1.0:
        parser.error("--size must be positive and --overlap within [0, 1]")
    shared = round(size * args.overlap)

    side_a, side_b = make_sets(size, shared)
    truth = len(set(side_a) & set(side_b))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gongying-bench-overlap-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if not args.json:
        print(
            f"gongying: {size:,} x {size:,} emails, {truth:,} shared; work dir {workdir}",
            file=sys.stderr,
        )
    groups = list(KNOWN_GROUPS) if args.group == "all" else [args.group]
    runs = {
        group: run_gongying(
            workdir / group, side_a, side_b, args.workers, args.sample_interval, group
        )
        for group in groups
    }
    gy = runs[groups[0]]
    del side_a, side_b
    if not args.json:
        print(
            f"gongying done in {gy['wall_seconds']:.2f} s; running openmined-psi", file=sys.stderr
        )
    om = run_openmined(size, shared, args.fpr)

    ok = all(run["count"] == truth for run in runs.values()) and om["count"] == truth
    report = {
        "size": size,
        "shared": shared,
        "truth": truth,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "gongying": gy,
        "groups": {group: _group_summary(run, om) for group, run in runs.items()},
        "openmined": om,
        "throughput_ratio": gy["elements_per_second"] / om["elements_per_second"],
        "wall_time_ratio": gy["wall_seconds"] / om["wall_seconds"],
        "counts_ok": ok,
        "log_dir": str(workdir / "logs"),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_tables(report)
        print_groups(report)
    if args.workdir is None:
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"counts differ from the truth; work dir kept: {workdir}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
