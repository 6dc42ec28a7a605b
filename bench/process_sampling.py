"""Peak memory, CPU seconds and TCP bytes of benchmarked processes and their children."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MIB = 1024 * 1024


def _vm_hwm_mib(pid: int) -> float | None:
    """The kernel's peak RSS of `pid` so far (Linux), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def tcp_bytes(pid: int) -> dict[tuple[str, str], int] | None:
    """bytes_sent + bytes_received per established TCP socket of `pid` (from `ss -tinp`).

    These are TCP payload bytes (HTTP/2 frames with gRPC and protobuf inside), without TCP/IP
    headers. None if `ss` is missing or fails.
    """
    try:
        listing = subprocess.run(
            ["ss", "-tinpH", "state", "established"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sockets: dict[tuple[str, str], int] = {}
    owner: tuple[str, str] | None = None
    for line in listing.splitlines():
        if not line[:1].isspace():  # "Recv-Q Send-Q local peer users:((...))"
            fields = line.split()
            owner = (fields[2], fields[3]) if f"pid={pid}," in line else None
        elif owner is not None:
            counters = dict(
                item.split(":", 1) for item in line.split() if item.startswith("bytes_")
            )
            sockets[owner] = int(counters.get("bytes_sent", 0)) + int(
                counters.get("bytes_received", 0)
            )
    return sockets


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class ProcessStats:
    """What was seen of one process: its label, sampled peak RSS, kernel peak, CPU in the query."""

    root: str
    label: str
    pid: int
    sampled_peak_mib: float = 0.0
    hwm_mib: float | None = None
    cpu_seconds_in_query: float | None = None

    @property
    def peak_mib(self) -> float:
        return max(self.sampled_peak_mib, self.hwm_mib or 0.0)


@dataclass
class TreeSampler:
    """Polls the RSS of each root process and all its descendants in a background thread."""

    roots: dict[str, int]
    interval: float = 0.2
    stats: dict[int, ProcessStats] = field(default_factory=dict)
    _handles: dict[int, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _label_child(self, root: str, child: psutil.Process) -> str:
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            command = ""
        if "resource_tracker" in command:
            return f"{root} resource tracker"
        workers = sum(1 for s in self.stats.values() if s.label.startswith(f"{root} worker"))
        return f"{root} worker {workers + 1}"

    def sample_once(self) -> None:
        with self._lock:
            for root, pid in self.roots.items():
                try:
                    top = self._handles.setdefault(pid, psutil.Process(pid))
                    members = [(top, root)] + [(c, "") for c in top.children(recursive=True)]
                except psutil.Error:
                    continue
                for process, label in members:
                    if process.pid not in self.stats:
                        self._handles[process.pid] = process
                        self.stats[process.pid] = ProcessStats(
                            root, label or self._label_child(root, process), process.pid
                        )
                    try:
                        rss = self._handles[process.pid].memory_info().rss / MIB
                    except psutil.Error:
                        continue
                    entry = self.stats[process.pid]
                    entry.sampled_peak_mib = max(entry.sampled_peak_mib, rss)

    def cpu_snapshot(self) -> dict[int, float]:
        """CPU seconds (user + system) of every process seen so far."""
        self.sample_once()
        snapshot = {}
        with self._lock:
            for pid, handle in self._handles.items():
                with contextlib.suppress(psutil.Error):
                    snapshot[pid] = _cpu_seconds(handle)
        return snapshot

    def read_high_water_marks(self) -> None:
        with self._lock:
            for pid, entry in self.stats.items():
                entry.hwm_mib = _vm_hwm_mib(pid)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_once()

    def start(self) -> None:
        self.sample_once()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample_once()
