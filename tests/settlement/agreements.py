"""The test's agreements and a pandas oracle of their shares from the member files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pandas as pd

from settlement.agreement import Agreement, load_agreement
from tests.settlement.cluster import BRAND, RETAILERS

CURRENT = """# brand x three retailers, autumn 2026
agreement = "brand-retail-autumn"
version = 1
querier = "brand"
partners = ["retailer_a", "retailer_b", "retailer_c"]
id_type = "email"
first_period = "2026-09"
last_period = "2026-11"

[pools.base]          # by what the shared audience spends at each retailer
share = "40%"
metric = "shared_spend"
attribute = "spend"

[pools.incremental]   # by each retailer's Shapley value of reach
share = "30%"
metric = "shapley_reach"

[pools.long_term]     # by the repeat rate of the shared audience
share = "30%"
metric = "repeat_rate"
attribute = "repeat"
bin = "yes"
"""

ALTERNATIVE = """agreement = "brand-retail-reach"
version = 1
querier = "brand"
partners = ["retailer_a", "retailer_b", "retailer_c"]
id_type = "email"
first_period = "2026-09"
last_period = "2026-11"

[pools.base]
share = "50%"
metric = "shared_reach"

[pools.new_customers]
share = "20%"
metric = "prospect_reach"

[pools.stores]
share = "30%"
metric = "declared"
inputs = { retailer_a = 3, retailer_b = 2, retailer_c = 1.5 }
"""


def write_agreements(folder: Path) -> tuple[Path, Path]:
    current, alternative = folder / "current.toml", folder / "alternative.toml"
    current.write_text(CURRENT)
    alternative.write_text(ALTERNATIVE)
    return current, alternative


def _weights(
    pool_metric: str, agreement: Agreement, frames: dict[str, pd.DataFrame], pool_index: int
) -> dict[str, Fraction]:
    brand = set(frames[BRAND]["person"])
    holders = pd.concat([frames[r][["person"]].assign(r=r) for r in RETAILERS])
    partners_holding = holders.groupby("person")["r"].nunique()
    weights = {}
    for r in RETAILERS:
        frame = frames[r]
        shared = frame[frame["person"].isin(brand)]
        if pool_metric == "shared_spend":
            weights[r] = Fraction(int(shared["spend"].sum()))
        elif pool_metric == "shapley_reach":
            counts = partners_holding[shared["person"]]
            weights[r] = sum((Fraction(1, int(n)) for n in counts), Fraction(0))
        elif pool_metric == "shared_reach":
            weights[r] = Fraction(len(shared))
        elif pool_metric == "prospect_reach":
            weights[r] = Fraction(int((~frame["person"].isin(brand)).sum()))
        elif pool_metric == "repeat_rate":
            weights[r] = Fraction(int((shared["repeat"] == "yes").sum()), len(shared))
        else:
            weights[r] = dict(agreement.pools[pool_index].inputs)[r]
    return weights


def oracle_pool_shares(
    agreement: Agreement, frames: dict[str, pd.DataFrame]
) -> dict[str, dict[str, Fraction]]:
    """pool -> partner -> share of the whole gains, straight from the member files."""
    shares = {}
    for index, pool in enumerate(agreement.pools):
        weights = _weights(pool.metric, agreement, frames, index)
        total = sum(weights.values(), Fraction(0))
        shares[pool.name] = {r: pool.share * w / total for r, w in weights.items()}
    return shares


def oracle_shares(agreement: Agreement, frames: dict[str, pd.DataFrame]) -> dict[str, Fraction]:
    pools = oracle_pool_shares(agreement, frames)
    return {r: sum((p[r] for p in pools.values()), Fraction(0)) for r in RETAILERS}


def load(path: Path) -> Agreement:
    return load_agreement(path)
