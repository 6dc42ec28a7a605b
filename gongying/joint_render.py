"""Terminal tables of the joint-operations analyses: prospect ranking, complementarity, partners."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from client.prospects import JointAnalysis, Ratio, Summed
from gongying.messages import ENGLISH, Messages


def count_text(value: Summed, t: Messages = ENGLISH) -> str:
    """A summed count for people: `1,234 ± 33` under noise, `1,234` exact, `unknown` hidden."""
    if value.value is None:
        return t("unknown")
    return f"{value.value:,} ± {value.half_width:,.0f}" if value.half_width else f"{value.value:,}"


def ratio_text(value: Ratio, t: Messages = ENGLISH) -> str:
    """A ratio as a percentage, with its joint 95% interval when it is not exact."""
    if value.value is None or value.low is None or value.high is None:
        return t("unknown")
    if value.low == value.high:
        return f"{100 * value.value:.1f}%"
    return f"{100 * value.value:.1f}% ({100 * value.low:.1f}-{100 * value.high:.1f}%)"


def joint_tables(analysis: JointAnalysis, t: Messages = ENGLISH) -> list[Table]:
    """The prospect ranking, the complementarity pairs and the greedy partner mix."""
    ranking = Table(title=t("tty_new_customers", querier=analysis.querier))
    left = (t("col_party"), t("col_why_unknown"))
    for column in (
        t("col_rank"),
        t("col_party"),
        t("tty_prospects"),
        t("col_share_of_base"),
        t("col_why_unknown"),
    ):
        ranking.add_column(column, justify="left" if column in left else "right")
    for pool in analysis.pools:
        ranking.add_row(
            str(pool.rank or "-"),
            pool.party,
            count_text(pool.prospects, t),
            "-" if pool.share is None else f"{100 * pool.share:.1f}%",
            pool.prospects.why,
        )
    pairs = Table(title=t("tty_pairs"))
    for column in ("A", "B", "|B \\ A|", "|B \\ A| / |B|", "Jaccard", t("col_why_unknown")):
        pairs.add_column(
            column, justify="left" if column in ("A", "B", t("col_why_unknown")) else "right"
        )
    for c in analysis.pairs:
        pairs.add_row(
            c.a,
            c.b,
            count_text(c.adds, t),
            ratio_text(c.adds_share, t),
            ratio_text(c.jaccard, t),
            c.adds.why or c.jaccard.why,
        )
    mix = Table(title=t("tty_mix_new_only" if analysis.coverage.new_only else "tty_mix"))
    left = (t("col_partner"), t("col_runner_up"))
    for column in (
        t("col_step"),
        t("col_partner"),
        t("col_gain"),
        t("col_reach"),
        t("col_runner_up"),
        t("col_clear_choice"),
    ):
        mix.add_column(column, justify="left" if column in left else "right")
    for s in analysis.coverage.steps:
        mix.add_row(
            str(s.step),
            s.partner,
            count_text(s.gain, t),
            count_text(s.reach, t),
            s.runner_up or "-",
            t("yes") if s.decisive else t("within_noise"),
        )
    if analysis.coverage.stopped:
        mix.caption = t("tty_stopped", why=analysis.coverage.stopped)
    return [ranking, pairs, mix]


def print_joint(analysis: JointAnalysis, console: Console, lang: str = "en") -> None:
    """Print every joint-operations table in `lang`."""
    for table in joint_tables(analysis, Messages(lang)):
        console.print(table)
