"""One benchmark command (`python -m bench` or `python -m bench.run`): overlap and Paillier steps.

    python -m bench                         # 100k x 10k overlap, 100k masks, with baselines
    python -m bench --sizes 10k,100k:100k   # RETAILER[:BRAND] per case (BRAND defaults to 1/10)
    python -m bench --sizes 10M:1M --no-baseline
    python -m bench --cores 1,2             # worker throughput only: blinding and masks

Overlap rows run node A, node B and the coordinator as processes (`bench.overlap.run_gongying`);
the baseline is openmined-psi cardinality on the same sets in a spawned process. Mask rows make
one Paillier mask per brand-list member in a `CryptoExecutor` (what the coordinator does for a
profile query); the baseline is plain `phe` encryption (which makes its own mask) on one core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.overlap import run_gongying
from model.sizes import CHUNK_ITEMS
from protocols.psi import PsiParty
from protocols.ristretto import POINT_BYTES
from runtime.executor import CryptoExecutor

SUFFIXES = {"k": 1_000, "m": 1_000_000}


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = SUFFIXES.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in SUFFIXES else text) * scale)


def parse_cases(text: str) -> list[tuple[int, int]]:
    """ "10M:1M,100k" -> [(10_000_000, 1_000_000), (100_000, 10_000)]."""
    cases = []
    for item in text.split(","):
        retailer, _, brand = item.partition(":")
        size = parse_size(retailer)
        cases.append((size, parse_size(brand) if brand else max(1, size // 10)))
    return cases


@dataclass
class Row:
    case: str
    sizes: str
    wall_s: float
    per_s: float
    peak_mib: float
    peak_where: str
    wire_b_per_element: float | None
    baseline_per_s: float | None

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline_per_s else self.per_s / self.baseline_per_s


def _children_peak_mib() -> tuple[float, str]:
    """Highest VmHWM among this process and its children (the pool's workers)."""
    best, where = 0.0, "bench"
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                mib = int(line.split()[1]) / 1024
                if mib > best:
                    best, where = mib, "bench" if process is me else "worker"
    return best, where


def _openmined_child(retailer: int, brand: int, fpr: float) -> dict[str, Any]:
    from bench.baselines import peak_rss_mb, run_openmined_cardinality

    side_a, side_b = make_sets(retailer, brand)
    result = run_openmined_cardinality(side_a, side_b, fpr=fpr)
    return {**asdict(result), "peak_mib": peak_rss_mb()}


def make_sets(retailer: int, brand: int) -> tuple[list[str], list[str]]:
    """Retailer: user0..; brand: half of it from the retailer's end, half new."""
    shared = brand // 2
    side_a = [f"user{i}@example.com" for i in range(retailer)]
    side_b = [f"user{i}@example.com" for i in range(retailer - shared, retailer - shared + brand)]
    return side_a, side_b


def overlap_rows(
    retailer: int, brand: int, workers: int, baseline: bool, workdir: Path
) -> list[Row]:
    side_a, side_b = make_sets(retailer, brand)
    report = run_gongying(workdir, side_a, side_b, workers, 0.2)
    expected = brand // 2
    if report["count"] != expected:
        raise SystemExit(f"overlap count {report['count']} != {expected}")
    del side_a, side_b
    peak = max(report["processes"], key=lambda p: p["peak_mib"])
    elements = retailer + brand
    measured = report["measured_bytes_per_element"]
    base: dict[str, Any] | None = None
    if baseline:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            base = pool.apply(_openmined_child, (retailer, brand, 1e-9))
    sizes = f"{retailer:,} x {brand:,}"
    rows = [
        Row(
            "overlap gongying",
            sizes,
            report["wall_seconds"],
            report["elements_per_second"],
            peak["peak_mib"],
            peak["label"],
            measured if measured is not None else report["payload_bytes_per_element"],
            base["elements_per_second"] if base else None,
        )
    ]
    if base:
        rows.append(
            Row(
                "overlap openmined-psi",
                sizes,
                base["seconds"],
                base["elements_per_second"],
                base["peak_mib"],
                "openmined",
                base["wire_bytes"] / elements,
                base["elements_per_second"],
            )
        )
    return rows


def phe_encrypt_rate(bits: int, sample: int) -> float:
    import phe

    public, _ = phe.generate_paillier_keypair(n_length=bits)
    started = time.perf_counter()
    for value in range(sample):
        public.encrypt(value)
    return sample / (time.perf_counter() - started)


def mask_row(count: int, executor: CryptoExecutor, bits: int, baseline: float | None) -> Row:
    from protocols.masks import build_mask_table
    from protocols.paillier import generate_keypair

    public_key, _ = generate_keypair(bits)
    table = build_mask_table(public_key)
    started = time.perf_counter()
    made = sum(len(b) for b in executor.generate_masks(table.n, table.h_s, count))
    wall = time.perf_counter() - started
    peak, where = _children_peak_mib()
    return Row(
        f"profile masks ({bits}-bit)",
        f"{count:,}",
        wall,
        made / wall,
        peak,
        where,
        2 * bits / 8,  # one indicator ciphertext mod n^2 per brand member, to the owner
        baseline,
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'case':<26} {'set sizes':<24} {'wall s':>9} {'elements/s':>12} "
        f"{'peak MiB/process':>24} {'wire B/el':>10} {'x baseline':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        wire = "" if r.wire_b_per_element is None else f"{r.wire_b_per_element:.1f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        peak = f"{r.peak_mib:.0f} ({r.peak_where})"
        print(
            f"{r.case:<26} {r.sizes:<24} {r.wall_s:>9.2f} {r.per_s:>12,.0f} "
            f"{peak:>24} {wire:>10} {ratio:>10}"
        )


def cores(counts: list[int], elements: int, masks: int, bits: int) -> int:
    """Worker throughput with 1, 2, ... workers on the same work (blinding and masks)."""
    from protocols.masks import build_mask_table
    from protocols.paillier import generate_keypair

    data = [f"user{i}@example.com".encode() for i in range(elements)]
    blinder = PsiParty.fresh().blinder()
    public_key, _ = generate_keypair(bits)
    table = build_mask_table(public_key)
    rates: dict[int, tuple[float, float]] = {}
    for count in counts:
        executor = CryptoExecutor(count)
        try:
            list(executor.blind_elements(data[: CHUNK_ITEMS * count], blinder))  # warm
            started = time.perf_counter()
            blinded = sum(len(c) for c in executor.blind_elements(data, blinder)) // POINT_BYTES
            blind_rate = blinded / (time.perf_counter() - started)
            list(executor.generate_masks(table.n, table.h_s, 64 * count, 64))  # table per worker
            started = time.perf_counter()
            made = sum(len(b) for b in executor.generate_masks(table.n, table.h_s, masks, 512))
            mask_rate = made / (time.perf_counter() - started)
        finally:
            executor.shutdown()
        rates[count] = (blind_rate, mask_rate)
    first = counts[0]
    print(f"{'workers':>7} {'blind el/s':>12} {'x':>6} {'masks/s':>10} {'x':>6}")
    for count, (blind_rate, mask_rate) in rates.items():
        print(
            f"{count:>7} {blind_rate:>12,.0f} {blind_rate / rates[first][0]:>6.2f} "
            f"{mask_rate:>10,.0f} {mask_rate / rates[first][1]:>6.2f}"
        )
    print(f"({elements:,} elements blinded, {masks:,} masks of {bits} bits, per worker count)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100k", help="RETAILER[:BRAND],... e.g. 10k,10M:1M")
    parser.add_argument("--no-baseline", action="store_true", help="skip openmined-psi and phe")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per role")
    parser.add_argument("--bits", type=int, default=2048, choices=(2048, 3072))
    parser.add_argument("--no-masks", action="store_true", help="skip the mask rows")
    parser.add_argument("--cores", help="only measure worker throughput for these counts: 1,2")
    parser.add_argument("--cores-elements", type=int, default=50_000)
    parser.add_argument("--cores-masks", type=int, default=8_192)
    parser.add_argument("--workdir", type=Path, help="keep configs, data and logs here")
    args = parser.parse_args(argv)
    if args.cores:
        counts = [int(c) for c in args.cores.split(",")]
        return cores(counts, args.cores_elements, args.cores_masks, args.bits)
    cases = parse_cases(args.sizes)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gongying-bench-") as temporary:
        root = args.workdir or Path(temporary)
        for index, (retailer, brand) in enumerate(cases):
            rows += overlap_rows(
                retailer, brand, args.workers, not args.no_baseline, root / f"case{index}"
            )
    if not args.no_masks:
        phe_rate = None if args.no_baseline else phe_encrypt_rate(args.bits, 20)
        executor = CryptoExecutor(args.workers)
        try:
            for _, brand in cases:
                rows.append(mask_row(brand, executor, args.bits, phe_rate))
        finally:
            executor.shutdown()
    print_table(rows)
    print(
        "elements/s: both sets' elements (overlap) or masks made, per wall second; "
        "x baseline: gongying rate / baseline rate (openmined-psi; phe encrypt on one core)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
