"""The overlap benchmark's report as rich tables: gongying against openmined-psi, per group."""

from __future__ import annotations

from typing import Any

from protocols.group_names import RISTRETTO255


def print_tables(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    gy, om, truth = report["gongying"], report["openmined"], report["truth"]
    console = Console()
    title = (
        f"Two-party overlap, {report['size']:,} per side, {truth:,} shared "
        f"({gy['elements']:,} elements), gongying workers/node = {report['workers']}"
    )
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("gongying", justify="right")
    table.add_column("openmined-psi", justify="right")
    table.add_column("gongying / openmined", justify="right")

    def mark(count: int) -> str:
        return f"{count:,} " + ("ok" if count == truth else f"WRONG (true {truth:,})")

    measured = gy["measured_bytes_per_element"]
    table.add_row("count", mark(gy["count"]), mark(om["count"]), "")
    table.add_row(
        "wall s",
        f"{gy['wall_seconds']:.2f}",
        f"{om['wall_seconds']:.2f}",
        f"{report['wall_time_ratio']:.2f}x",
    )
    table.add_row(
        "elements/s",
        f"{gy['elements_per_second']:,.0f}",
        f"{om['elements_per_second']:,.0f}",
        f"{report['throughput_ratio']:.3f}x",
    )
    table.add_row(
        "CPU s (all processes)",
        f"{gy['cpu_seconds']:.2f}",
        f"{om['cpu_seconds']:.2f}",
        f"{gy['cpu_seconds'] / om['cpu_seconds']:.2f}x",
    )
    table.add_row(
        "elements / CPU s",
        f"{gy['elements'] / gy['cpu_seconds']:,.0f}",
        f"{om['elements'] / om['cpu_seconds']:,.0f}",
        f"{om['cpu_seconds'] / gy['cpu_seconds']:.3f}x",
    )
    table.add_row(
        "wire B/element",
        f"{gy['payload_bytes_per_element']:.0f} payload"
        + ("" if measured is None else f"\n{measured:.1f} measured"),
        f"{om['wire_bytes_per_element']:.1f}",
        f"{gy['payload_bytes_per_element'] / om['wire_bytes_per_element']:.2f}x payload"
        + (
            "" if measured is None else f"\n{measured / om['wire_bytes_per_element']:.2f}x measured"
        ),
    )
    table.add_row(
        "peak RSS MiB (sum)",
        f"{sum(p['peak_mib'] for p in gy['processes']):,.0f}",
        f"{om['processes'][0]['peak_mib']:,.0f}",
        "",
    )
    console.print(table)

    memory = Table(title="Peak RSS per process (MiB) and CPU seconds during the query")
    memory.add_column("process", no_wrap=True)
    memory.add_column("pid", justify="right")
    memory.add_column("peak (VmHWM)", justify="right")
    memory.add_column("peak sampled", justify="right")
    memory.add_column("CPU s in query", justify="right")
    for entry in gy["processes"]:
        cpu = entry["cpu_seconds_in_query"]
        hwm = entry["hwm_mib"]
        memory.add_row(
            f"gongying {entry['label']}",
            str(entry["pid"]),
            "-" if hwm is None else f"{hwm:,.1f}",
            f"{entry['sampled_peak_mib']:,.1f}",
            "-" if cpu is None else f"{cpu:.2f}",
        )
    memory.add_row(
        "openmined-psi (one process)", "", f"{om['processes'][0]['peak_mib']:,.1f}", "", ""
    )
    console.print(memory)
    console.print(
        "gongying wire: payload = 3 hops x 32-byte points (node->coordinator->node->coordinator), "
        "excluding protobuf/gRPC/HTTP2 framing; measured = growth of bytes sent + received on the "
        "coordinator's TCP sockets during the query (ss/tcp_info: HTTP/2 frames, framing "
        "included, no TCP/IP headers). "
        f"Coordinator-side query time {gy['coordinator_seconds']:.2f} s."
    )


def print_groups(report: dict[str, Any]) -> None:
    """One row per PSI group measured, with ratios to ristretto255 when it ran too."""
    from rich.console import Console
    from rich.table import Table

    groups: dict[str, dict[str, float]] = report["groups"]
    base = groups.get(RISTRETTO255)
    table = Table(title="gongying per PSI group (same run; ratios > 1: faster than the other)")
    for column in ("group", "wall s", "CPU s", "CPU us/element", "vs openmined wall, CPU"):
        table.add_column(column, justify="right")
    table.add_column("vs ristretto255 wall, CPU", justify="right")
    for group, row in groups.items():
        versus = (
            f"{base['wall_seconds'] / row['wall_seconds']:.2f}x, "
            f"{base['cpu_seconds'] / row['cpu_seconds']:.2f}x"
            if base is not None
            else "-"
        )
        table.add_row(
            group,
            f"{row['wall_seconds']:.2f}",
            f"{row['cpu_seconds']:.2f}",
            f"{row['cpu_us_per_element']:.1f}",
            f"{row['openmined_wall_over_this']:.2f}x, {row['openmined_cpu_over_this']:.2f}x",
            versus,
        )
    Console().print(table)
