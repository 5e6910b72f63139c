"""Uncertainty across seeds: the seed is the unit of replication, so intervals are over seeds.

A policy's outcome share on a few hundred test levels is measured almost exactly; what
varies is the training run. So intervals are over per-seed values, computed with
well-kept libraries as Agarwal et al. (2021) recommend, not hand-written formulas:

* :func:`bootstrap_ci` / :func:`stratified_bootstrap_ci`: bootstrap intervals (scipy,
  BCa) of the mean or the interquartile mean (:func:`iqm`, robust to a heavy-tailed seed);
* :func:`seed_count_ci` and :func:`verdict_counts`: Clopper-Pearson intervals for counts
  of seeds ("18 of 20 seeds [0.68, 0.99]"), the report to use when seeds split into modes;
* :func:`kaplan_meier` / :func:`km_median`: time-to-event that can be censored (scipy's
  ``ecdf`` on ``CensoredData``); a median not reached is ``inf``, not a made-up number;
* :func:`effect_ci`: how two groups of seeds differ (difference in means, or the
  probability of superiority a Mann-Whitney test is about);
* :func:`holm`: Holm's correction over a chapter's family of hypotheses (statsmodels).

:func:`mean_ci` (a t-interval) and :func:`wilson_ci` (episodes, not seeds, as the unit)
stay for the chapters that quote them. Every interval helper returns
``(estimate, low, high)`` with ``low <= estimate <= high``, inside ``bounds`` when given:
no reported interval leaves its quantity's range.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from misalign.validation import check_choice, is_real

Values = Sequence[float] | np.ndarray
Bounds = tuple[float, float] | None
Statistic = Literal["mean", "iqm", "median"]
STATISTICS: tuple[str, ...] = ("mean", "iqm", "median")
BOOTSTRAP_METHODS: tuple[str, ...] = ("BCa", "percentile")
"""Interval methods of :func:`scipy.stats.bootstrap` offered here (BCa corrects bias and skew)."""


def mean_ci(values: Values, level: float = 0.95, bounds: Bounds = None) -> tuple[float, float, float]:
    """Mean and a t-interval over independent replicates (seeds): ``(mean, low, high)``.

    ``bounds`` clips the interval to the quantity's range (e.g. ``(0, 1)`` for shares).
    Prefer :func:`bootstrap_ci` for bounded or skewed quantities; this one stays because
    published chapters quote it.
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
    return m, min(low, m), max(high, m)


def wilson_ci(successes: int, trials: int, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion with its Wilson interval: ``(p, low, high)``."""
    if trials <= 0:
        raise ValueError(f"trials must be positive (got {trials})")
    low, high = proportion_confint(successes, trials, alpha=1 - level, method="wilson")
    p = successes / trials
    return p, min(max(float(low), 0.0), p), max(min(float(high), 1.0), p)


INTERVALS: tuple[str, ...] = ("t", "bootstrap")
"""How :func:`summarize` builds an interval over seeds: a t-interval (version-1 chapters quote
it) or the bootstrap over seeds (:func:`bootstrap_ci`, BCa; chapters rebuilt on the
evidence standards use it)."""


def summarize(
    table: pd.DataFrame, value: str, by: Sequence[str], level: float = 0.95, bounds: Bounds = None, interval: str = "t"
) -> pd.DataFrame:
    """Per group: mean of ``value`` over rows (one row per seed), its interval and the number of seeds.

    The one place intervals over seeds are summarised; groups keep their order of first appearance.
    ``interval`` is one of :data:`INTERVALS`.
    """
    check_choice("interval", interval, INTERVALS)
    rows = []
    for key, group in table.groupby(list(by), sort=False):
        values = group[value].to_numpy(dtype=float)
        if interval == "t":
            m, lo, hi = mean_ci(values, level, bounds)
        else:
            m, lo, hi = bootstrap_ci(values, "mean", level, bounds)
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {**dict(zip(by, key, strict=True)), "mean": m, "low": lo, "high": hi, "n": int(group[value].notna().sum())}
        )
    return pd.DataFrame(rows)


def shares_table(
    per_seed: pd.DataFrame, by: str, columns: Sequence[str], *, sort: bool = False, interval: str = "t"
) -> pd.DataFrame:
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
    summary = summarize(long, "share", [by, "outcome"], bounds=(0.0, 1.0), interval=interval)
    return summary.rename(columns={"mean": "share", "n": "seeds"})


# ----------------------------------------------------------------------------- argument checks and tidying


def _check_level(level: float) -> None:
    if not is_real(level) or not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be a number in (0, 1) (got {level!r})")


def _check_bounds(bounds: Bounds) -> None:
    if bounds is None:
        return
    if len(bounds) != 2 or any(math.isnan(float(b)) for b in bounds) or not float(bounds[0]) <= float(bounds[1]):
        raise ValueError(f"bounds must be (low, high) with low <= high (got {bounds!r})")


def _clean(values: Values, bounds: Bounds = None, name: str = "values") -> np.ndarray:
    """Finite float array without NaNs (a NaN is a missing seed); values outside ``bounds`` are a bug upstream."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise ValueError(f"{name} must contain at least one number that is not NaN")
    if bounds is not None and (x.min() < bounds[0] or x.max() > bounds[1]):
        raise ValueError(f"{name} must lie within bounds {bounds} (got min {x.min()}, max {x.max()})")
    return x


def _tidy(estimate: float, low: float, high: float, bounds: Bounds) -> tuple[float, float, float]:
    """Clip to ``bounds`` and make sure the interval holds its estimate (a percentile or BCa interval
    need not, and rounding can step a hair outside the range)."""
    if math.isnan(low) or math.isnan(high) or math.isnan(estimate):
        raise RuntimeError(f"an interval came out undefined ({estimate}, {low}, {high})")
    if bounds is not None:
        estimate, low, high = (min(max(v, bounds[0]), bounds[1]) for v in (estimate, low, high))
    return float(estimate), float(min(low, estimate)), float(max(high, estimate))


# ----------------------------------------------------------------------------- bootstrap, IQM, medians


def iqm(values: Values) -> float:
    """Interquartile mean: the mean of the middle half of the values (25% trimmed each side).

    Why: a mean over few seeds is dragged by one collapsed run, a median throws most seeds
    away; the IQM sits between (Agarwal et al. 2021). Below 4 values nothing is trimmed.
    """
    return float(sps.trim_mean(_clean(values), 0.25))


def _statistic(name: str):
    """A vectorized statistic over the last axis, as scipy.stats.bootstrap calls it."""
    check_choice("statistic", name, STATISTICS)
    if name == "iqm":
        return lambda x, axis=-1: sps.trim_mean(x, 0.25, axis=axis)
    return (lambda x, axis=-1: np.median(x, axis=axis)) if name == "median" else np.mean


def _bootstrap(samples: tuple[np.ndarray, ...], stat, level: float, seed: int, n_resamples: int, method: str):
    """scipy's bootstrap; where BCa is undefined (a degenerate jackknife, few distinct values) it
    falls back to the percentile interval rather than returning NaN."""
    check_choice("method", method, BOOTSTRAP_METHODS)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer (got {n_resamples!r})")
    # a group of one seed resamples to itself: hold it fixed (scipy wants two or more per sample)
    moving = [i for i, s in enumerate(samples) if s.size > 1]

    def held(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        batch = np.broadcast_shapes(*(r.shape[:-1] for r in resampled))
        it = iter(resampled)
        full = [next(it) if i in moving else np.broadcast_to(s, (*batch, s.size)) for i, s in enumerate(samples)]
        return stat(*full, axis=axis)

    for m in dict.fromkeys((method, "percentile")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DegenerateDataWarning: handled by the fallback below
            res = sps.bootstrap(
                tuple(samples[i] for i in moving),
                held,
                n_resamples=n_resamples,
                vectorized=True,
                axis=-1,
                confidence_level=level,
                method=m,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isnan(low) or math.isnan(high)):
            return low, high
    raise RuntimeError("the bootstrap interval is undefined")


def bootstrap_ci(
    values: Values,
    statistic: Statistic = "mean",
    level: float = 0.95,
    bounds: Bounds = None,
    seed: int = 0,
    n_resamples: int = 9999,
    method: str = "BCa",
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: a seed statistic (mean, IQM or median) with its bootstrap interval.

    Resamples seeds with :func:`scipy.stats.bootstrap` (BCa by default, the percentile
    interval where BCa is undefined). NaNs (missing seeds) are dropped. When every value
    agrees, including a single value, there is no spread to resample, and the interval
    has zero width at the value: it says nothing about seeds not run, so report the seed
    count beside it. ``bounds`` is the quantity's range (``(0, 1)`` for shares): values
    outside it raise, the interval is clipped to it, and it always holds its estimate.
    """
    _check_level(level)
    _check_bounds(bounds)
    x = _clean(values, bounds)
    stat = _statistic(statistic)
    estimate = float(stat(x, axis=-1))
    if np.all(x == x[0]):
        return _tidy(estimate, estimate, estimate, bounds)
    low, high = _bootstrap((x,), stat, level, seed, n_resamples, method)
    return _tidy(estimate, low, high, bounds)


def stratified_bootstrap_ci(
    groups: Mapping[Hashable, Values] | Sequence[Values],
    statistic: Statistic = "mean",
    level: float = 0.95,
    bounds: Bounds = None,
    seed: int = 0,
    n_resamples: int = 9999,
    method: str = "BCa",
) -> tuple[float, float, float]:
    """An aggregate over several tasks (scenarios) with seeds resampled within each task (rliable's
    stratified bootstrap): ``(estimate, low, high)``.

    The statistic is taken over all values pooled (rliable's aggregate IQM); resampling
    within tasks keeps each task's seed count fixed, so the interval reflects seed-to-seed
    variation only, not which tasks happened to be drawn. When every task's values agree
    the interval has zero width (see :func:`bootstrap_ci`).
    """
    _check_level(level)
    _check_bounds(bounds)
    items = list(groups.items()) if isinstance(groups, Mapping) else list(enumerate(groups))
    if not items:
        raise ValueError("groups must hold at least one group of values")
    samples = tuple(_clean(v, bounds, name=f"groups[{k!r}]") for k, v in items)
    stat = _statistic(statistic)
    pooled = lambda *xs, axis=-1: stat(np.concatenate(xs, axis=axis), axis=axis)  # noqa: E731
    estimate = float(pooled(*samples))
    if all(np.all(s == s[0]) for s in samples):
        return _tidy(estimate, estimate, estimate, bounds)
    low, high = _bootstrap(samples, pooled, level, seed, n_resamples, method)
    return _tidy(estimate, low, high, bounds)


EFFECTS: tuple[str, ...] = ("difference", "superiority")
"""Two-group effects: difference in means, or the probability of superiority P(X > Y) + P(X = Y) / 2."""


def _superiority(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2 over all pairs (the Mann-Whitney U over n_x n_y), along the last axis."""
    diff = x[..., :, None] - y[..., None, :]
    return (diff > 0).mean(axis=(-2, -1)) + 0.5 * (diff == 0).mean(axis=(-2, -1))


def effect_ci(
    x: Values,
    y: Values,
    effect: str = "difference",
    level: float = 0.95,
    bounds: Bounds = None,
    seed: int = 0,
    n_resamples: int = 9999,
    method: str = "BCa",
) -> tuple[float, float, float]:
    """How group ``x`` differs from group ``y`` (seeds of two settings): ``(estimate, low, high)``.

    ``effect`` "difference": mean of x minus mean of y; "superiority": the chance that a
    seed of x beats a seed of y (ties count half), the effect a Mann-Whitney test is
    about, in [0, 1]. Seeds are resampled within each group (scipy's bootstrap);
    ``bounds`` is the range of the values, and the interval stays inside the effect's
    range. When both groups are constant the interval has zero width.
    """
    check_choice("effect", effect, EFFECTS)
    _check_level(level)
    _check_bounds(bounds)
    a, b = _clean(x, bounds, name="x"), _clean(y, bounds, name="y")
    stat = _superiority if effect == "superiority" else (lambda u, v, axis=-1: u.mean(axis) - v.mean(axis))
    if effect == "superiority":
        effect_bounds: Bounds = (0.0, 1.0)
    else:
        effect_bounds = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    estimate = float(stat(a, b))
    if np.all(a == a[0]) and np.all(b == b[0]):
        return _tidy(estimate, estimate, estimate, effect_bounds)
    low, high = _bootstrap((a, b), stat, level, seed, n_resamples, method)
    return _tidy(estimate, low, high, effect_bounds)


def median_ci(values: Values, level: float = 0.95, bounds: Bounds = None) -> tuple[float, float, float]:
    """The median with its distribution-free interval between order statistics: ``(median, low, high)``.

    Why not the bootstrap: the median of few seeds has a lumpy bootstrap distribution; the
    order-statistic interval (binomial with p = 1/2) covers at least ``level`` exactly. With
    too few values for ``level`` (fewer than 6 at 95%) the data cannot bound the median, and
    the interval is ``bounds`` (infinite without them).
    """
    _check_level(level)
    _check_bounds(bounds)
    x = np.sort(_clean(values, bounds))
    n, estimate = x.size, float(np.median(x))
    # m: the largest count with P(Bin(n, 1/2) <= m) <= (1 - level) / 2; then the interval between
    # the (m+1)-th smallest and the (m+1)-th largest value covers the median with at least ``level``.
    tail = (1 - level) / 2
    m = int(sps.binom.ppf(tail, n, 0.5))
    if sps.binom.cdf(m, n, 0.5) > tail:
        m -= 1
    if m < 0:
        low, high = (-math.inf, math.inf) if bounds is None else (float(bounds[0]), float(bounds[1]))
    else:
        low, high = float(x[m]), float(x[n - 1 - m])
    return _tidy(estimate, low, high, bounds)


# ----------------------------------------------------------------------------- counts of seeds


def seed_count_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """``k`` of ``n`` seeds: ``(share, low, high)`` with the Clopper-Pearson (exact binomial) interval.

    Why Clopper-Pearson: with 10-20 seeds an approximate interval under-covers near 0 and
    1, which is where "18 of 20 seeds" sits; the exact one never does.
    """
    _check_level(level)
    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise ValueError(f"{name} must be an integer (got {v!r})")
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0 (got k={k}, n={n})")
    low, high = proportion_confint(int(k), int(n), alpha=1 - level, method="beta")
    low = 0.0 if k == 0 else float(low)  # the exact ends, whatever the floating point
    high = 1.0 if k == n else float(high)
    return _tidy(k / n, low, high, (0.0, 1.0))


def verdict_counts(per_seed_verdicts: Iterable[Hashable], level: float = 0.95) -> pd.DataFrame:
    """One row per verdict: ``verdict, seeds, n, share, low, high`` (Clopper-Pearson), most common first.

    Why: where seeds split into modes (7 seeds inner, 3 collapsed), a mean over seeds
    describes no policy; the counts do. Missing verdicts (None, NaN) are dropped; ties keep
    their order of first appearance.
    """
    verdicts = [v for v in per_seed_verdicts if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not verdicts:
        raise ValueError("per_seed_verdicts must hold at least one verdict")
    counts = pd.Series(verdicts).value_counts(sort=False)  # order of first appearance
    order = sorted(range(len(counts)), key=lambda i: -counts.iloc[i])
    n = len(verdicts)
    rows = []
    for i in order:
        k = int(counts.iloc[i])
        share, low, high = seed_count_ci(k, n, level)
        rows.append({"verdict": counts.index[i], "seeds": k, "n": n, "share": share, "low": low, "high": high})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Modal:
    """The modal verdict of seeds with its Clopper-Pearson interval.

    ``str()`` reads "inner: 18 of 20 seeds [0.68, 0.99]".
    """

    verdict: Hashable
    seeds: int
    n: int
    share: float
    low: float
    high: float
    tied: bool

    def __str__(self) -> str:
        tie = " (tied)" if self.tied else ""
        return f"{self.verdict}: {self.seeds} of {self.n} seeds [{self.low:.2f}, {self.high:.2f}]{tie}"


def modal_verdict(per_seed_verdicts: Iterable[Hashable], level: float = 0.95) -> Modal:
    """The most common per-seed verdict, its count and the interval of its share (see :func:`verdict_counts`)."""
    table = verdict_counts(per_seed_verdicts, level)
    top = table.iloc[0]
    tied = len(table) > 1 and int(table["seeds"].iloc[1]) == int(top["seeds"])
    return Modal(top["verdict"], int(top["seeds"]), int(top["n"]), top["share"], top["low"], top["high"], tied)


def modes(values: Values, threshold: float, labels: tuple[str, str] = ("below", "at or above")) -> pd.DataFrame:
    """Per-seed values split at ``threshold`` into two labelled modes, counted as in :func:`verdict_counts`."""
    x = _clean(values)
    return verdict_counts(np.where(x < threshold, labels[0], labels[1]).tolist())


# ----------------------------------------------------------------------------- censored time-to-event


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier fit: ``curve`` (time, survival, low, high; survival just after each time,
    from 1 at time 0) and the median time with its interval (``inf`` where not reached)."""

    curve: pd.DataFrame
    median: float
    low: float
    high: float
    n: int
    events: int


def _first_at_or_below(times: np.ndarray, survival: np.ndarray, p: float) -> float:
    hit = np.flatnonzero(survival <= p)
    return float(times[hit[0]]) if hit.size else math.inf


def kaplan_meier(times: Values, observed: Sequence[bool] | np.ndarray, level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier survival of censored times (``observed`` False: still running when follow-up ended).

    Uses :func:`scipy.stats.ecdf` on :class:`scipy.stats.CensoredData` with log-log
    pointwise intervals. The median is the first time the survival falls to 1/2 or below,
    ``inf`` if it never does within follow-up; its interval (Brookmeyer-Crowley) runs
    from where the band's lower edge falls to 1/2 to where its upper edge does, again
    ``inf`` where that is not reached. Where the band is undefined (no event yet, or
    survival 0) it is taken as the estimate itself. NaN times are dropped.
    """
    _check_level(level)
    t = np.asarray(times, dtype=float).ravel()
    e = np.asarray(observed).ravel()
    if t.shape != e.shape:
        raise ValueError(f"times and observed must have the same length (got {t.size} and {e.size})")
    if e.dtype != bool and not np.isin(e, (0, 1)).all():
        raise ValueError("observed must be booleans (True: the event happened)")
    keep = ~np.isnan(t)
    t, e = t[keep], e[keep].astype(bool)
    if t.size == 0:
        raise ValueError("times must contain at least one number that is not NaN")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("times must be finite and non-negative")
    fit = sps.ecdf(sps.CensoredData(uncensored=t[e], right=t[~e]))
    at, surv = fit.sf.quantiles, fit.sf.probabilities
    if e.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "undefined at some observations": filled below
            band = fit.sf.confidence_interval(level, method="log-log")
        lo = np.where(np.isnan(band.low.probabilities), surv, band.low.probabilities)
        hi = np.where(np.isnan(band.high.probabilities), surv, band.high.probabilities)
    else:
        lo = hi = surv
    lo, hi = np.minimum(np.clip(lo, 0, 1), surv), np.maximum(np.clip(hi, 0, 1), surv)
    curve = pd.DataFrame({"time": at, "survival": surv, "low": lo, "high": hi})
    if at[0] > 0:
        curve = pd.concat([pd.DataFrame({"time": [0.0], "survival": [1.0], "low": [1.0], "high": [1.0]}), curve])
    median = _first_at_or_below(at, surv, 0.5)
    low, high = _first_at_or_below(at, lo, 0.5), _first_at_or_below(at, hi, 0.5)
    return KaplanMeier(curve.reset_index(drop=True), median, low, high, int(t.size), int(e.sum()))


def km_median(times: Values, observed: Sequence[bool] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """``(median, low, high)`` of censored times (see :func:`kaplan_meier`); ``inf`` where not reached."""
    fit = kaplan_meier(times, observed, level)
    return fit.median, fit.low, fit.high


# ----------------------------------------------------------------------------- multiple hypotheses


def holm(pvalues: Values, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction over a family: ``(reject, adjusted p-values)`` in the input order.

    Why Holm: it controls the family-wise error rate like Bonferroni under any dependence
    between the hypotheses, and never rejects less.
    """
    _check_level(alpha)
    p = np.asarray(pvalues, dtype=float).ravel()
    if p.size == 0:
        raise ValueError("pvalues must hold at least one p-value")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"pvalues must lie in [0, 1] (got {p.tolist()})")
    reject, adjusted, _, _ = multipletests(p, alpha=alpha, method="holm")
    return reject.astype(bool), np.minimum(adjusted, 1.0)
