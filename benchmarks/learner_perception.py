"""Which learner perceives the coin? The measurement behind chapter 1's default learner.

For each learner (a network and an observation) and seed: train on a coin world's
training split (cached), then report its test outcomes (coin / exit without coin /
neither) and whether the direction of the coin from the agent is linearly decodable from
its last hidden layer on test levels, with the selectivity over a control task (Hewitt
and Liang 2019: the same probe on labels assigned at random per coin offset), for the
trained network and a randomly initialised twin. A learner that ignores the coin while
perceiving it reveals a goal; one that cannot perceive it is blind, not misaligned.

    python benchmarks/learner_perception.py [--scenario coin-at-exit] [--seeds 3] [--steps 4000000]
        [--learners "mlp (full grid)" "mlp (egocentric, radius 8)" "cnn (full grid)"]
"""

from __future__ import annotations

import argparse

import pandas as pd
from misalign.experiments.behavioural import LEARNERS, perception_cell
from misalign.stats import summarize
from misalign.sweeps import expand_grid, run_sweep

MEASURES = ("coin", "exit without coin", "neither", "trained accuracy", "trained selectivity", "random selectivity")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="coin-at-exit")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    args = parser.parse_args()
    grid = expand_grid(learner=args.learners, scenario=[args.scenario], total_steps=[args.steps])
    table = run_sweep(perception_cell, grid, args.seeds, n_jobs=args.jobs, progress=True)
    pd.set_option("display.width", 200)
    print(table.drop(columns=["scenario", "total_steps"]).round(3).to_string(index=False))
    for learner, rows in table.groupby("learner", sort=False):
        parts = []
        for measure in MEASURES:
            bounds = (0.0, 1.0) if "selectivity" not in measure else (-1.0, 1.0)  # shares; differences of shares
            s = summarize(rows, measure, ["learner"], bounds=bounds).iloc[0]
            parts.append(f"{measure.replace(' ', '_')}={s['mean']:.3f}[{s['low']:.3f},{s['high']:.3f}]")
        print(
            f"RESULT learner={learner.replace(' ', '_')} scenario={args.scenario} steps={args.steps} "
            f"seeds={args.seeds} " + " ".join(parts)
        )


if __name__ == "__main__":
    main()
