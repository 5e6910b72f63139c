"""Is goal misgeneralization real in our gridworld, across seeds?

Trains coin-at-exit-v1 and coin-diverse-v1 (alpha = 0.25) policies with chapter 1's budgets
(each until its training reward is high) over 10 seeds, plays each on 500 coin-anywhere
test levels and prints the share of episodes in each outcome (coin / exit without coin / neither) with 95% t-intervals
over seeds. Cached: a rerun reuses finished trainings.

    python benchmarks/phenomenon.py [--seeds 10] [--jobs 2]
"""

from __future__ import annotations

import argparse

import pandas as pd
from misalign.experiments.behavioural import VERSION_1_CASES as FRAMING1_CASES
from misalign.rollouts import train_and_test
from misalign.stats import summarize
from misalign.sweeps import run_sweep

CASES = [c for c in FRAMING1_CASES if c.scenario in ("coin-at-exit-v1", "coin-diverse-v1")]


def phenomenon_table(seeds: int = 10, jobs: int = 2, progress: bool = False) -> pd.DataFrame:
    """Per-seed outcome shares for both scenarios (one row per scenario, seed, split and outcome)."""
    grid = [{"scenario": c.scenario, "total_steps": c.total_steps, **dict(c.overrides)} for c in CASES]
    return run_sweep(train_and_test, grid, seeds, n_jobs=jobs, progress=progress)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    test = table[table["split"] == "test"]
    return summarize(test, "share", ["scenario", "outcome"], bounds=(0.0, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    table = phenomenon_table(args.seeds, args.jobs, progress=True)
    s = summary(table)
    pd.set_option("display.width", 120)
    print(s.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    train_ok = table.groupby("scenario")["train_coin"].mean()
    print("mean training-distribution coin share:", train_ok.round(3).to_dict())
    pick = {(r.scenario, r.outcome): r for r in s.itertuples()}
    misgen = pick[("coin-at-exit-v1", "exit without coin")]
    aligned = pick[("coin-diverse-v1", "coin")]
    print(
        f"RESULT seeds={args.seeds} "
        f"coin_at_exit_exit_without_coin={misgen.mean:.3f} "
        f"ci=[{misgen.low:.3f},{misgen.high:.3f}] coin_diverse_coin={aligned.mean:.3f} "
        f"ci=[{aligned.low:.3f},{aligned.high:.3f}]"
    )


if __name__ == "__main__":
    main()
