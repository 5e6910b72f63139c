"""Goal misgeneralization is real in our gridworld, over 10 seeds (not assumed).

Uses chapter 1's training budgets and the on-disk training cache, so after the book
has been built this costs only the test rollouts. `python benchmarks/phenomenon.py`
prints the same numbers with their intervals.
"""

from __future__ import annotations

import pytest
from misalign.experiments.behavioural import VERSION_1_CASES as FRAMING1_CASES
from misalign.rollouts import train_and_test
from misalign.stats import mean_ci
from misalign.sweeps import run_sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shares():
    cases = [c for c in FRAMING1_CASES if c.scenario in ("coin-at-exit-v1", "coin-diverse-v1")]
    grid = [{"scenario": c.scenario, "total_steps": c.total_steps, **dict(c.overrides)} for c in cases]
    long = run_sweep(train_and_test, grid, seeds=10, n_jobs=2)
    wide = long.pivot_table(index=["scenario", "seed"], columns=["split", "outcome"], values="share")
    wide.columns = [f"{split}_{outcome}" for split, outcome in wide.columns]  # e.g. test_exit without coin
    return wide.reset_index()


def test_coin_at_exit_policies_exit_without_the_coin(shares) -> None:
    mine = shares[shares["scenario"] == "coin-at-exit-v1"]
    assert len(mine) == 10
    assert (mine["train_coin"] >= 0.95).sum() >= 9, "training-distribution success"
    mean, low, _ = mean_ci(mine["test_exit without coin"])
    assert mean > 0.5, f"most test episodes should exit without the coin (mean {mean:.2f}, CI low {low:.2f})"
    # Seeds split: most policies walk to the exit, a few collapse on test levels (chapter 1 reports it).
    assert (mine["test_exit without coin"] > 0.5).sum() >= 6, "most seeds' policies exit without the coin"
    _, _, coin_high = mean_ci(mine["test_coin"])
    assert coin_high < 0.25, "the coin is taken only where it lies on the way"


def test_coin_diverse_policies_get_the_coin(shares) -> None:
    mine = shares[shares["scenario"] == "coin-diverse-v1"]
    assert len(mine) == 10
    mean, low, _ = mean_ci(mine["test_coin"])
    assert low > 0.5, f"most test episodes should take the coin (mean {mean:.2f}, CI low {low:.2f})"
    exit_mean, _, exit_high = mean_ci(mine["test_exit without coin"])
    assert exit_high < low, "taking the coin clearly beats exiting without it"
