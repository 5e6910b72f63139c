"""PPO learns coin-at-exit-v1: >= 95% training-distribution success for at least 9 of 10 seeds."""

from __future__ import annotations

import os

from joblib import Parallel, delayed
from misalign.ppo import PPOConfig, train
from misalign.rollouts import rollout


def _success(seed: int) -> float:
    os.environ["OMP_NUM_THREADS"] = "1"
    result = train("coin-at-exit-v1", PPOConfig(total_steps=400_000, threads=1), seed=seed)
    table = rollout(result.policy, "coin-at-exit-v1", "train", n_episodes=256, seed=seed)
    return float((table["coin"] > 0).mean())


def test_ppo_reaches_95_percent_on_9_of_10_seeds():
    rates = Parallel(n_jobs=2)(delayed(_success)(seed) for seed in range(10))
    print("training success per seed:", rates)
    assert sum(r >= 0.95 for r in rates) >= 9, rates
