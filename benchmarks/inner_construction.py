"""Does a candidate inner-misalignment construction land? Train, then classify test episodes with classifier v2.

For each scenario and learner (a network and an observation) and seed: train on the
training split (cached), play the test split, and classify every episode with the
competence classifier v2 (:mod:`misalign.competence`), whose candidate goals include
locations (the cells where the training coin always lay, the room's corners) as well as
entities. Prints, per scenario and learner, the seed-mean share of each outcome and of
each revealed goal, and the modal verdict of each seed; the design of chapter 1's inner
rows is chosen by these figures.

    python benchmarks/inner_construction.py [--scenarios room-corner coin-at-exit maze-corner]
        [--seeds 3] [--steps 4000000] [--learners "mlp (full grid)" "cnn (full grid)"]

The learners are chapter 1's (``misalign.experiments.behavioural.LEARNERS``); the CNN is
not a default because it trains about 10x slower per step here.
"""

from __future__ import annotations

import argparse

import pandas as pd
from misalign.behaviours import coin_outcome_shares
from misalign.competence import classify_v2
from misalign.experiments.behavioural import LEARNERS
from misalign.outcomes import OUTCOMES
from misalign.ppo import PPOConfig, train_cached
from misalign.rollouts import rollout
from misalign.scenarios import get_scenario
from misalign.sweeps import expand_grid, run_sweep


def construction_cell(scenario: str, learner: str, seed: int, total_steps: int, n_episodes: int = 256) -> dict:
    """Train one policy (cached); its training success, test outcome shares and revealed-goal shares."""
    arch, overrides = LEARNERS[learner]
    sc = get_scenario(scenario, **overrides)
    result = train_cached(sc, seed, PPOConfig(total_steps=total_steps, arch=arch))
    table = classify_v2(rollout(result.policy, sc, "test", n_episodes, seed=seed), sc, "test")
    out: dict = {"train H": float(result.history["mean_H"].iloc[-1])}
    out.update({f"outcome: {k}": float((table["outcome"] == k).mean()) for k in OUTCOMES})
    goals = table.loc[table["competent"], "revealed_goal"].value_counts(normalize=True)
    out.update({f"goal: {k}": float(v) for k, v in goals.items()})
    out.update({f"coin outcome: {k}": v for k, v in coin_outcome_shares(table).items()})
    out["modal outcome"] = table["outcome"].mode().iloc[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", default=["room-corner", "coin-at-exit", "maze-corner"])
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS)[:2], choices=list(LEARNERS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    grid = expand_grid(scenario=args.scenarios, learner=args.learners, total_steps=[args.steps])
    table = run_sweep(construction_cell, grid, args.seeds, n_jobs=args.jobs, progress=True).fillna(0.0)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    keys = ["scenario", "learner"]
    numeric = [c for c in table.columns if c not in (*keys, "seed", "total_steps", "modal outcome")]
    print(table.groupby(keys, sort=False)[numeric].mean().round(3).T.to_string())
    for (scenario, learner), rows in table.groupby(keys, sort=False):
        modes = rows["modal outcome"].value_counts().to_dict()
        shares = rows[[c for c in rows.columns if c.startswith("goal: ")]].mean()
        goals = {c.removeprefix("goal: "): round(float(v), 3) for c, v in shares.items()}
        print(
            f"RESULT scenario={scenario} learner={learner.replace(' ', '_')} steps={args.steps} seeds={len(rows)} "
            f"train_H={rows['train H'].mean():.3f} seed_verdicts={modes} revealed_goals={goals}"
        )


if __name__ == "__main__":
    main()
