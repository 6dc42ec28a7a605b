"""Terminal tables of the joint-operations analyses: prospect ranking, complementarity, partners."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from client.prospects import JointAnalysis, Ratio, Summed


def count_text(value: Summed) -> str:
    """A summed count for people: `1,234 ± 33` under noise, `1,234` exact, `unknown` hidden."""
    if value.value is None:
        return "unknown"
    return f"{value.value:,} ± {value.half_width:,.0f}" if value.half_width else f"{value.value:,}"


def ratio_text(value: Ratio) -> str:
    """A ratio as a percentage, with its joint 95% interval when it is not exact."""
    if value.value is None or value.low is None or value.high is None:
        return "unknown"
    if value.low == value.high:
        return f"{100 * value.value:.1f}%"
    return f"{100 * value.value:.1f}% ({100 * value.low:.1f}-{100 * value.high:.1f}%)"


def joint_tables(analysis: JointAnalysis) -> list[Table]:
    """The prospect ranking, the complementarity pairs and the greedy partner mix."""
    ranking = Table(title=f"New customers for {analysis.querier}: members it does not hold")
    for column in ("rank", "party", "prospects", "share of its base", "why unknown"):
        ranking.add_column(
            column, justify="left" if column in ("party", "why unknown") else "right"
        )
    for pool in analysis.pools:
        ranking.add_row(
            str(pool.rank or "-"),
            pool.party,
            count_text(pool.prospects),
            "-" if pool.share is None else f"{100 * pool.share:.1f}%",
            pool.prospects.why,
        )
    pairs = Table(title="Complementarity: what B adds to A's audience")
    for column in ("A", "B", "|B \\ A|", "|B \\ A| / |B|", "Jaccard", "why unknown"):
        pairs.add_column(column, justify="left" if column in ("A", "B", "why unknown") else "right")
    for c in analysis.pairs:
        pairs.add_row(
            c.a,
            c.b,
            count_text(c.adds),
            ratio_text(c.adds_share),
            ratio_text(c.jaccard),
            c.adds.why or c.jaccard.why,
        )
    mix = Table(
        title="Best partners for reach (greedy)"
        + (", new customers only" if analysis.coverage.new_only else "")
    )
    for column in ("step", "partner", "gain", "reach", "runner-up", "clear choice"):
        mix.add_column(column, justify="left" if column in ("partner", "runner-up") else "right")
    for s in analysis.coverage.steps:
        mix.add_row(
            str(s.step),
            s.partner,
            count_text(s.gain),
            count_text(s.reach),
            s.runner_up or "-",
            "yes" if s.decisive else "within noise",
        )
    if analysis.coverage.stopped:
        mix.caption = f"stopped: {analysis.coverage.stopped}"
    return [ranking, pairs, mix]


def print_joint(analysis: JointAnalysis, console: Console) -> None:
    """Print every joint-operations table."""
    for table in joint_tables(analysis):
        console.print(table)
