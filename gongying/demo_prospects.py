"""The demo's joint-operations step: which retailer brings the most new customers, and who they are.

The ranking comes from the overlap the demo already ran (prospects: each retailer's members the
brand lacks, sums of released regions). "Who they are" is two more profile queries at the top
retailer, under its policy and budget: its prospects (members the brand lacks) and its whole
base, and the audience index (TGI) of every bin: share among prospects over share in the base,
x 100, with its joint 95% interval; the bins whose interval lies above 100 are printed first.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from client.audience_index import BinIndex, audience_index
from client.prospects import JointAnalysis, analyse
from gongying.demo_data import BRAND
from gongying.demo_profile import CATEGORICAL
from gongying.joint_render import print_joint
from model.results import OverlapResult, ProfileResult

TOP_BINS = 6

Profiler = Callable[[str, str], ProfileResult] | None
"""(owner, audience) -> the profile of that owner's audience on the categorical attributes; None
when the parties run without policies (`--insecure-plaintext`): a querier's node then has no
signed query telling it the audience, and its plausibility check admits shared audiences only."""


def prospects_step(
    result: OverlapResult, profile: Profiler, console: Console, lang: str = "en"
) -> JointAnalysis:
    """Print the prospect ranking and the top retailer's top-index bins (none when the ranking
    cannot name a top retailer, e.g. every prospect count hidden); the analysis, for the
    report."""
    analysis = analyse(result, BRAND, k=min(2, len(result.parties) - 1))
    console.print(f"which retailer brings {BRAND} the most new customers?")
    print_joint(analysis, console, lang)
    ranked = sorted(
        (p for p in analysis.pools if p.party != BRAND and p.rank is not None),
        key=lambda p: p.rank or 0,
    )
    if not ranked:
        console.print("no prospect count could be released: no ranking")
        return analysis
    top = ranked[0].party
    if profile is None:
        console.print(f"{top} brings the most new customers (profiles of prospects need policies)")
        return analysis
    console.print(f"{top} brings the most new customers; who are they (against {top}'s base)?")
    prospects, base = profile(top, "prospects"), profile(top, "base")
    rows: list[tuple[str, BinIndex]] = []
    for attribute in CATEGORICAL:
        for item in audience_index(prospects.profile(top), base.profile(top), attribute):
            rows.append((attribute, item))
    known = [(a, i) for a, i in rows if i.index is not None]
    known.sort(key=lambda row: (not row[1].significant, -(row[1].index or 0.0)))
    table = Table(title=f"Audience index of {top}'s prospects (base = 100), top {TOP_BINS}")
    for column in ("attribute", "bin", "index", "95% interval", "significant"):
        table.add_column(column, justify="right" if column in ("index", "95% interval") else "left")
    for attribute, item in known[:TOP_BINS]:
        table.add_row(
            attribute,
            item.bin,
            f"{item.index:.0f}",
            f"{item.low:.0f}..{item.high:.0f}",
            "yes" if item.significant else "no",
        )
    console.print(table)
    unknown = len(rows) - len(known)
    if unknown:
        console.print(f"{unknown} bins have no index (a count hidden, or a denominator may be 0)")
    return analysis
