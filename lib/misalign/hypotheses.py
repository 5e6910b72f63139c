"""Pre-registered hypotheses as data: declared before computing, tested on per-seed values, Holm over the family.

Why: a claim written after seeing the numbers it checks cannot fail. So a chapter

1. declares its hypotheses in a :class:`Preregistration` before any computation (the
   page shows :meth:`Preregistration.table`, and :meth:`Preregistration.digest` can go
   into the chapter's record, so editing a hypothesis after the fact shows in the diff);
2. computes its per-seed values;
3. calls :func:`evaluate`, which runs each hypothesis's test, corrects the p-values with
   Holm over the whole family and gives each a verdict with its estimate and interval.

A ``confirm`` run on fresh seeds calls the same :func:`evaluate` on the same
preregistration; :func:`same_verdicts` lists the hypotheses whose verdict flipped.

Tests (:data:`TESTS`) work on per-seed values, the seed being the unit of replication:
``sign`` and ``wilcoxon`` compare one group with the number ``null``; ``binomial``
compares the share of seeds where something holds with ``null`` (e.g. "the expected
outcome is the modal verdict of most seeds": ``null=0.5``, ``direction="greater"``);
``mann-whitney`` and ``permutation`` compare a group with the group named by ``versus``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats as sps

from misalign.stats import bootstrap_ci, effect_ci, holm, median_ci, seed_count_ci
from misalign.validation import check_choice, is_real

DIRECTIONS: tuple[str, ...] = ("greater", "less", "two-sided")
"""The alternative hypothesis: the quantity is greater than ``null`` (or than ``versus``), less, or differs."""
SUPPORTED, NOT_SUPPORTED = "supported", "not supported"


@dataclass(frozen=True)
class Outcome:
    """What one test found: its p-value and the estimate it is about, with an interval."""

    p: float
    estimand: str
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class SeedTest:
    """A registered test: how many groups it compares and how it runs."""

    name: str
    groups: int
    description: str
    run: Callable[[Hypothesis, np.ndarray, np.ndarray | None, int, int], Outcome]


@dataclass(frozen=True)
class Hypothesis:
    """One pre-registered hypothesis about per-seed values of ``quantity`` (a key of the data).

    ``direction`` is the alternative: "greater" means the quantity exceeds ``null`` (one-group
    tests) or the quantity of ``versus`` shifted by ``null`` (two-group tests). ``expected``
    (binomial test only) turns per-seed labels into successes: a seed counts where its label
    equals ``expected``; without it the binomial test wants booleans or 0/1.
    """

    id: str
    statement: str
    quantity: str
    direction: str
    test: str
    alpha: float = 0.05
    null: float = 0.0
    versus: str | None = None
    expected: Hashable | None = None

    def __post_init__(self) -> None:
        for name in ("id", "statement", "quantity"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string (got {value!r})")
        check_choice("direction", self.direction, DIRECTIONS)
        check_choice("test", self.test, TESTS)
        if not is_real(self.alpha) or not 0.0 < float(self.alpha) < 1.0:
            raise ValueError(f"alpha must be a number in (0, 1) (got {self.alpha!r}) in hypothesis {self.id!r}")
        if not is_real(self.null) or not math.isfinite(float(self.null)):
            raise ValueError(f"null must be a finite number (got {self.null!r}) in hypothesis {self.id!r}")
        if self.test == "binomial" and not 0.0 < float(self.null) < 1.0:
            raise ValueError(f"null must be a share in (0, 1) for the binomial test (got {self.null!r})")
        two = TESTS[self.test].groups == 2
        if two and not (isinstance(self.versus, str) and self.versus):
            raise ValueError(f"versus must name the group to compare with for the {self.test!r} test")
        if not two and self.versus is not None:
            raise ValueError(f"versus is only for two-group tests, not {self.test!r} (got {self.versus!r})")
        if self.expected is not None and self.test != "binomial":
            raise ValueError(f"expected is only for the binomial test, not {self.test!r}")


@dataclass(frozen=True, init=False)
class Preregistration:
    """An ordered family of hypotheses, declared before anything is computed.

    Every hypothesis shares one ``alpha``: Holm controls one family-wise error rate.
    """

    hypotheses: tuple[Hypothesis, ...]

    def __init__(self, hypotheses: Sequence[Hypothesis]) -> None:
        hypotheses = tuple(hypotheses)
        if not hypotheses:
            raise ValueError("hypotheses must hold at least one Hypothesis")
        for h in hypotheses:
            if not isinstance(h, Hypothesis):
                raise ValueError(f"hypotheses must be Hypothesis objects (got {type(h).__name__})")
        ids = [h.id for h in hypotheses]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"id must be unique within a preregistration; duplicated: {', '.join(duplicates)}")
        alphas = sorted({float(h.alpha) for h in hypotheses})
        if len(alphas) > 1:
            raise ValueError(f"alpha must be the same for every hypothesis of a family (got {alphas})")
        object.__setattr__(self, "hypotheses", hypotheses)

    def __iter__(self) -> Iterator[Hypothesis]:
        return iter(self.hypotheses)

    def __len__(self) -> int:
        return len(self.hypotheses)

    @property
    def alpha(self) -> float:
        return float(self.hypotheses[0].alpha)

    def table(self) -> pd.DataFrame:
        """The declaration as the page shows it: id, statement, quantity, direction, null, versus, test, alpha."""
        columns = ["id", "statement", "quantity", "direction", "null", "versus", "test", "alpha"]
        return pd.DataFrame([{c: getattr(h, c) for c in columns} for h in self.hypotheses], columns=columns)

    def digest(self) -> str:
        """A short fingerprint of the declaration: a changed hypothesis changes it."""
        text = json.dumps([{f.name: repr(getattr(h, f.name)) for f in fields(h)} for h in self], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the tests


def _level(h: Hypothesis) -> float:
    """Intervals are two-sided at 1 - alpha, whatever the direction of the test."""
    return 1.0 - float(h.alpha)


def _sign(h: Hypothesis, x: np.ndarray, _: np.ndarray | None, seed: int, n_resamples: int) -> Outcome:
    above, below = int((x > h.null).sum()), int((x < h.null).sum())
    p = 1.0 if above + below == 0 else sps.binomtest(above, above + below, 0.5, alternative=h.direction).pvalue
    return Outcome(float(p), "median", *median_ci(x, _level(h)))


def _wilcoxon(h: Hypothesis, x: np.ndarray, _: np.ndarray | None, seed: int, n_resamples: int) -> Outcome:
    d = x - h.null
    p = 1.0 if np.all(d == 0) else sps.wilcoxon(d, alternative=h.direction).pvalue
    return Outcome(float(p), "mean", *bootstrap_ci(x, "mean", _level(h), seed=seed, n_resamples=n_resamples))


def _binomial(h: Hypothesis, x: np.ndarray, _: np.ndarray | None, seed: int, n_resamples: int) -> Outcome:
    k, n = int(x.sum()), int(x.size)
    p = sps.binomtest(k, n, float(h.null), alternative=h.direction).pvalue
    return Outcome(float(p), "share of seeds", *seed_count_ci(k, n, _level(h)))


def _mann_whitney(h: Hypothesis, x: np.ndarray, y: np.ndarray | None, seed: int, n_resamples: int) -> Outcome:
    assert y is not None
    p = sps.mannwhitneyu(x, y + h.null, alternative=h.direction).pvalue
    ci = effect_ci(x, y + h.null, "superiority", _level(h), seed=seed, n_resamples=n_resamples)
    shift = f" + {h.null:g}" if h.null else ""
    return Outcome(float(p), f"P({h.quantity} > {h.versus}{shift})", *ci)


def _permutation(h: Hypothesis, x: np.ndarray, y: np.ndarray | None, seed: int, n_resamples: int) -> Outcome:
    assert y is not None
    res = sps.permutation_test(
        (x, y + h.null),
        lambda a, b, axis=-1: a.mean(axis) - b.mean(axis),
        vectorized=True,
        n_resamples=n_resamples,
        alternative=h.direction,
        rng=np.random.default_rng(seed),
    )
    ci = effect_ci(x, y, "difference", _level(h), seed=seed, n_resamples=n_resamples)
    return Outcome(float(res.pvalue), f"mean {h.quantity} - mean {h.versus}", *ci)


TESTS: dict[str, SeedTest] = {
    t.name: t
    for t in (
        SeedTest("sign", 1, "sign test of the median against null (binomial on seeds above vs below)", _sign),
        SeedTest("wilcoxon", 1, "Wilcoxon signed-rank test of the values minus null", _wilcoxon),
        SeedTest("binomial", 1, "exact binomial test of the share of seeds where it holds against null", _binomial),
        SeedTest("mann-whitney", 2, "Mann-Whitney U test of quantity against versus shifted by null", _mann_whitney),
        SeedTest("permutation", 2, "permutation test of the difference in means (minus null)", _permutation),
    )
}
"""The registry of tests a hypothesis may name."""


# ----------------------------------------------------------------------------- evaluation


def _values(h: Hypothesis, name: str, data: Mapping[str, object]) -> np.ndarray:
    """Per-seed values of ``name`` for hypothesis ``h``: floats without NaNs, or successes for the binomial test."""
    if name not in data:
        raise ValueError(f"data has no quantity {name!r} (needed by hypothesis {h.id!r}); it has {sorted(data)}")
    raw = data[name]
    raw = raw.tolist() if isinstance(raw, np.ndarray | pd.Series) else list(raw)
    raw = [v for v in raw if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not raw:
        raise ValueError(f"quantity {name!r} has no values (hypothesis {h.id!r})")
    if h.test == "binomial":
        if h.expected is not None:
            return np.array([v == h.expected for v in raw], dtype=float)
        if not all(v in (0, 1) for v in raw):
            raise ValueError(f"the binomial test of {h.id!r} needs booleans or 0/1 in {name!r}, or set expected")
        return np.array(raw, dtype=float)
    return np.asarray(raw, dtype=float)


def evaluate(
    prereg: Preregistration, data: Mapping[str, object], seed: int = 0, n_resamples: int = 9999
) -> pd.DataFrame:
    """Test every hypothesis of ``prereg`` on ``data`` (quantity name -> per-seed values), in order.

    One row per hypothesis: its declaration, the number of seeds (``n``, and ``n_versus``
    for two-group tests), the estimate with its two-sided (1 - alpha) interval, the p-value,
    the Holm-adjusted p-value over the family and the ``verdict`` ("supported" where the
    adjusted p-value is at most alpha, else "not supported"). ``seed`` fixes the bootstrap
    and permutation draws, so an evaluation is reproducible.
    """
    if not isinstance(prereg, Preregistration):
        raise ValueError(f"prereg must be a Preregistration (got {type(prereg).__name__})")
    rows = []
    for h in prereg:
        x = _values(h, h.quantity, data)
        y = _values(h, h.versus, data) if h.versus is not None else None
        out = TESTS[h.test].run(h, x, y, seed, n_resamples)
        rows.append({**asdict(h), "n": int(x.size), "n_versus": None if y is None else int(y.size), **asdict(out)})
    table = pd.DataFrame(rows)
    table["n_versus"] = table["n_versus"].astype("Int64")
    reject, adjusted = holm(table["p"].to_numpy(), prereg.alpha)
    table["p_holm"] = adjusted
    table["verdict"] = np.where(reject, SUPPORTED, NOT_SUPPORTED)
    return table


def same_verdicts(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The hypotheses whose verdict differs between two evaluations of one preregistration
    (say, the published run and the confirm run on fresh seeds): ``id, statement, verdict_a,
    verdict_b``. Empty when every verdict holds: ``same_verdicts(a, b).empty``.
    """
    for name, t in (("a", a), ("b", b)):
        if not {"id", "verdict"} <= set(t.columns):
            raise ValueError(f"{name} must be an evaluate() table with columns id and verdict")
    if sorted(a["id"]) != sorted(b["id"]):
        raise ValueError(f"a and b must evaluate the same hypotheses (got {list(a['id'])} and {list(b['id'])})")
    both = a[["id", "statement", "verdict"]].merge(b[["id", "verdict"]], on="id", suffixes=("_a", "_b"))
    return both[both["verdict_a"] != both["verdict_b"]].reset_index(drop=True)
