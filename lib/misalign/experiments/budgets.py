"""How a verdict depends on the training budget, from one run per seed (every row of chapter 1).

Each sweep cell trains one policy and classifies the test episodes of its copies at several
budgets (:mod:`misalign.budgets`), so the verdict over budgets costs one training run, not
one per budget; and none when the published run already kept the copies (a case with
``copies_at``, see :mod:`misalign.experiments.behavioural`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from misalign.budgets import train_with_checkpoints_cached
from misalign.competence import classify_v2
from misalign.ppo import PPOConfig
from misalign.rollouts import rollout
from misalign.scenarios import get_scenario


def budget_curve_cell(
    scenario: str, seed: int, total_steps: int, at_steps: Sequence[int], n_episodes: int = 256, **overrides
) -> pd.DataFrame:
    """One sweep cell: train once for ``total_steps`` (or load the run), keeping the policy at each
    of ``at_steps``, and classify every copy's test episodes (the same levels for each copy).

    Returns the classified episodes (without trajectories) with the ``budget`` each copy was
    kept for and the ``train_steps`` it had actually taken; group by ``budget`` to get
    per-budget outcome shares and verdicts (:func:`misalign.outcomes.shares_per_seed`,
    :func:`misalign.experiments.behavioural.seed_verdicts`).
    """
    sc = get_scenario(scenario, **overrides)
    _, kept = train_with_checkpoints_cached(sc, PPOConfig(total_steps=total_steps), seed, at_steps)
    tables = []
    for copy in kept:
        table = classify_v2(rollout(copy.policy, sc, "test", n_episodes, seed=seed), sc, "test")
        table["budget"], table["train_steps"] = copy.budget, copy.steps
        tables.append(table.drop(columns=["actions"]))
    return pd.concat(tables, ignore_index=True)
