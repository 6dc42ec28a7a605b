"""The coordinator's matching alone, on synthetic fully blinded points: time and peak RSS.

    python -m bench.matching                          # 10M x 1M, in-memory vs partitioned
    python -m bench.matching --sizes 1M:100k,10M:1M --modes partitioned
    python -m bench.matching --sizes 100M:10M --modes partitioned --json

No PSI crypto runs: a fully blinded point is a uniform 32-byte string to the coordinator, so the
sets are random bytes made chunk by chunk (8,192 points, as the nodes stream them) from seeded
generators; the brand's set shares `--overlap` of its points with the retailer's. Each mode runs
in its own process and reports its own peak RSS (`getrusage` ru_maxrss, the kernel's high-water
mark for the whole process life), wall and CPU seconds, and the seconds spent making the points
(subtracted in "matching s"):

- `memory`: what the coordinator did before: every set joined into one buffer, then
  `protocols.matching.count_regions` over all of them.
- `partitioned`: what it does now: `coordinator.spill.PointSpill` (points appended to per-prefix
  files as they arrive, in TMPDIR), then counted partition by partition.

Both must count the shared points exactly (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from bench.run import parse_cases
from coordinator.spill import PARTITION_BITS, PointSpill
from model.sizes import CHUNK_ITEMS
from protocols.matching import count_regions

MODES = ("memory", "partitioned")
RETAILER, BRAND = "retailer", "brand"


@dataclass
class Measured:
    mode: str
    retailer: int
    brand: int
    both_parties: int
    wall_s: float
    cpu_s: float
    generate_s: float
    matching_s: float
    points_per_cpu_s: float
    peak_rss_mib: float
    intersection: int
    expected: int


class Points:
    """The two synthetic sets, chunk by chunk; time spent making them is added up."""

    def __init__(self, retailer: int, brand: int, overlap: float, seed: int) -> None:
        self.sizes = {RETAILER: retailer, BRAND: brand}
        self.shared = min(retailer, int(brand * overlap))
        self.seed = seed
        self.seconds = 0.0

    def _block(self, stream: int, index: int, count: int) -> bytes:
        started = time.perf_counter()
        block = np.random.default_rng((self.seed, stream, index)).bytes(32 * count)
        self.seconds += time.perf_counter() - started
        return block

    def chunks(self, party: str) -> Iterator[bytes]:
        """`party`'s points: the first `shared` are the same for both parties."""
        size, own = self.sizes[party], 1 if party == RETAILER else 2
        for start in range(0, size, CHUNK_ITEMS):
            count = min(CHUNK_ITEMS, size - start)
            index = start // CHUNK_ITEMS
            if start + count <= self.shared:
                yield self._block(0, index, count)
            elif start >= self.shared:
                yield self._block(own, index, count)
            else:  # a chunk straddling the end of the shared points
                head = self._block(0, index, count)[: 32 * (self.shared - start)]
                yield head + self._block(own, index, count - (self.shared - start))


def measure(mode: str, retailer: int, brand: int, overlap: float, bits: int) -> Measured:
    """Run one mode in this process (call it in a fresh process for a clean peak RSS)."""
    points = Points(retailer, brand, overlap, seed=17)
    started, cpu_started = time.perf_counter(), time.process_time()
    if mode == "memory":
        counts = count_regions({p: b"".join(points.chunks(p)) for p in (RETAILER, BRAND)})
    else:
        with PointSpill((RETAILER, BRAND), bits=bits) as spill:
            for party in (RETAILER, BRAND):
                spill.add_all(party, points.chunks(party))
            counts = spill.count_regions()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    both = retailer + brand
    return Measured(
        mode=mode,
        retailer=retailer,
        brand=brand,
        both_parties=both,
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        generate_s=round(points.seconds, 2),
        matching_s=round(wall - points.seconds, 2),
        points_per_cpu_s=round(both / max(cpu - points.seconds, 1e-9)),
        peak_rss_mib=round(peak_kib / 1024, 1),
        intersection=counts.intersection(),
        expected=points.shared,
    )


def _in_child(mode: str, retailer: int, brand: int, overlap: float, bits: int) -> Measured:
    command = [sys.executable, "-m", "bench.matching", "--child", mode]
    command += ["--sizes", f"{retailer}:{brand}", "--overlap", str(overlap), "--bits", str(bits)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return Measured(**json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--sizes", default="10M:1M", help="RETAILER[:BRAND],... e.g. 1M,10M:1M")
    parser.add_argument("--modes", default=",".join(MODES), help="memory,partitioned")
    parser.add_argument("--overlap", type=float, default=0.5, help="fraction of the brand shared")
    parser.add_argument("--bits", type=int, default=PARTITION_BITS, help="2**bits partitions")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cases = parse_cases(args.sizes)
    if args.child:
        retailer, brand = cases[0]
        print(json.dumps(asdict(measure(args.child, retailer, brand, args.overlap, args.bits))))
        return 0
    modes = [m.strip() for m in args.modes.split(",")]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}: use {', '.join(MODES)}")
    if not args.json:
        print(
            f"{'mode':<12}{'retailer':>12}{'brand':>11}{'wall s':>9}{'CPU s':>8}{'gen s':>8}"
            f"{'match s':>9}{'points/CPU s':>14}{'peak RSS MiB':>14}  ok"
        )
    failed = False
    for retailer, brand in cases:
        for mode in modes:
            row = _in_child(mode, retailer, brand, args.overlap, args.bits)
            ok = row.intersection == row.expected
            failed |= not ok
            if args.json:
                print(json.dumps(asdict(row)), flush=True)
            else:
                print(
                    f"{row.mode:<12}{row.retailer:>12,}{row.brand:>11,}{row.wall_s:>9.1f}"
                    f"{row.cpu_s:>8.1f}{row.generate_s:>8.1f}{row.matching_s:>9.1f}"
                    f"{row.points_per_cpu_s:>14,}{row.peak_rss_mib:>14.1f}"
                    f"  {'yes' if ok else 'NO'}",
                    flush=True,
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
