"""Uncertainty across seeds: the seed is the unit of replication, so intervals are over seeds.

A policy's outcome share on a few hundred test levels is measured almost exactly; what
varies is the training run. So every interval here is a t-interval of per-seed values
(scipy), and proportions pooled over episodes use Wilson intervals (statsmodels) only
where episodes, not seeds, are the unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint


def mean_ci(
    values: Sequence[float] | np.ndarray, level: float = 0.95, bounds: tuple[float, float] | None = None
) -> tuple[float, float, float]:
    """Mean and a t-interval over independent replicates (seeds): ``(mean, low, high)``.

    ``bounds`` clips the interval to the quantity's range (e.g. ``(0, 1)`` for shares).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise ValueError("values must contain at least one number")
    m = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return m, m, m
    half = float(sps.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    low, high = m - half, m + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return m, low, high


def wilson_ci(successes: int, trials: int, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion with its Wilson interval: ``(p, low, high)``."""
    if trials <= 0:
        raise ValueError(f"trials must be positive (got {trials})")
    low, high = proportion_confint(successes, trials, alpha=1 - level, method="wilson")
    return successes / trials, float(low), float(high)


def summarize(
    table: pd.DataFrame, value: str, by: Sequence[str], level: float = 0.95, bounds: tuple[float, float] | None = None
) -> pd.DataFrame:
    """Per group: mean of ``value`` over rows (one row per seed), its t-interval and the number of seeds.

    The one place intervals over seeds are summarised; groups keep their order of first appearance.
    """
    rows = []
    for key, group in table.groupby(list(by), sort=False):
        m, lo, hi = mean_ci(group[value].to_numpy(), level, bounds)
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {**dict(zip(by, key, strict=True)), "mean": m, "low": lo, "high": hi, "n": int(group[value].notna().sum())}
        )
    return pd.DataFrame(rows)


def shares_table(per_seed: pd.DataFrame, by: str, columns: Sequence[str], *, sort: bool = False) -> pd.DataFrame:
    """From one row per (group, seed) with a column per share: a long table with, per group and
    column (``outcome``), the seed mean ``share``, its interval and the number of ``seeds``.

    Groups come in order of first appearance (``sort``: sorted), columns in the given order.
    """
    keys = sorted(per_seed[by].unique()) if sort else list(dict.fromkeys(per_seed[by]))
    long = per_seed.melt(id_vars=[by], value_vars=list(columns), var_name="outcome", value_name="share")
    rank = long[by].map({k: i for i, k in enumerate(keys)}) * len(columns) + long["outcome"].map(
        {c: i for i, c in enumerate(columns)}
    )
    long = long.iloc[np.argsort(rank.to_numpy(), kind="stable")]
    return summarize(long, "share", [by, "outcome"], bounds=(0.0, 1.0)).rename(columns={"mean": "share", "n": "seeds"})
