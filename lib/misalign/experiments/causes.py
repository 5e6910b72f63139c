"""Chapter 2's experiments (book/02_causes.py): correction budgets, attribution and inductive biases.

The measures live in :mod:`misalign.corrections` (corrected rewards, moved coins, the
budget read off a sweep) and :mod:`misalign.attribution` (TracIn); this module holds
the sweep cells chapter 2 runs over alpha, k, levels and architectures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from misalign.agents import ActorCritic
from misalign.attribution import level_gradients, misbehaviour_grad, misbehaviour_steps, tracin
from misalign.behaviours import COIN_OUTCOMES, coin_outcome_shares
from misalign.corrections import CorrectedRewardWorld, move_coins
from misalign.gridworld import GridWorld, level_bank
from misalign.outcomes import OUTCOMES, classify, outcome_shares
from misalign.ppo import PPOConfig, train, train_cached
from misalign.registry import Entity
from misalign.rollouts import rollout
from misalign.scenarios import Scenario, get_scenario
from misalign.stats import shares_table
from misalign.validation import check_choice, check_int_range, check_probability

ABLATIONS = {  # variant -> (PPOConfig arch, scenario overrides)
    "mlp (full grid)": ("mlp", {}),
    "mlp (egocentric 7x7)": ("mlp", {"observation": "ego"}),
    "cnn (full grid)": ("cnn", {}),
    "coordcnn (full grid)": ("coordcnn", {}),
}
COIN_COLUMNS = [f"coin: {c}" for c in COIN_OUTCOMES]  # the coin outcomes as columns of a cell's result


def evaluate(policy: ActorCritic, scenario: Scenario, n_episodes: int, seed: int) -> dict[str, float]:
    """Test-split outcome shares (Framing 1's five and, for coin scenarios, the three coin outcomes)
    plus the mean R and H: every share is reported, not only the misbehaviour's."""
    table = rollout(policy, scenario, "test", n_episodes, seed=seed)
    out: dict[str, float] = outcome_shares(classify(table, scenario, "test"))
    if Entity.COIN in scenario.entities:
        out.update({column: v for column, (k, v) in zip(COIN_COLUMNS, coin_outcome_shares(table).items(), strict=True)})
    out.update({"R": float(table["R"].mean()), "H": float(table["H"].mean())})
    return out


def _train_success(history: pd.DataFrame) -> float:
    return float(history["mean_H"].iloc[-1]) if len(history) else float("nan")


def alpha_cell(alpha: float, seed: int, total_steps: int = 1_000_000, n_episodes: int = 256) -> dict[str, float]:
    """One diversity-sweep cell: train on coin-diverse-v1 with share ``alpha`` (cached; alpha = 0 is
    coin-at-exit-v1 itself), then classify test episodes."""
    check_probability("alpha", alpha)
    sc = get_scenario("coin-at-exit-v1") if alpha == 0.0 else get_scenario("coin-diverse-v1", alpha=alpha)
    result = train_cached(sc, seed, PPOConfig(total_steps=total_steps))
    return {
        **evaluate(result.policy, sc, n_episodes, seed),
        "train_H": _train_success(result.history),
        "seconds": result.seconds,
    }


def reward_correction_cell(
    k: float, seed: int, scenario: str = "checkpoint-v1", total_steps: int = 1_000_000, n_episodes: int = 256
) -> dict[str, float]:
    """One k-sweep cell: train with a share ``k`` of episodes paid by H, classify test episodes."""
    check_probability("k", k)
    sc = get_scenario(scenario)
    cfg = PPOConfig(total_steps=total_steps)
    env = CorrectedRewardWorld(sc, "train", cfg.num_envs, seed=seed, k=k, level_seed=cfg.level_seed)
    result = train(sc, cfg, seed, env=env)
    return {
        **evaluate(result.policy, sc, n_episodes, seed),
        "train_H": _train_success(result.history),
        "seconds": result.seconds,
    }


def attribution_cell(
    seed: int,
    n_levels: int = 32,
    m_values: tuple[int, ...] = (2, 6),
    total_steps: int = 500_000,
    checkpoint_every: int = 6,
    n_episodes: int = 256,
) -> pd.DataFrame:
    """Attribute a coin-at-exit-v1 policy's test misbehaviour to its ``n_levels`` training levels with
    TracIn, then retrain (same seed) with the coins of the ``m`` top-scored levels moved away
    from the exit, and of ``m`` random levels, for each ``m``: the retraining is the ground truth.

    Returns one row per (method, m): ``none`` (the original), ``tracin`` and ``random``,
    with every outcome share; the ``none`` row also carries the per-level ``scores``.
    """
    check_int_range("n_levels", n_levels, 2, 100_000)
    for m in m_values:
        check_int_range("m", m, 1, n_levels)
    sc = get_scenario("coin-at-exit-v1")
    cfg = PPOConfig(total_steps=total_steps, n_levels=n_levels)
    base = train(sc, cfg, seed, checkpoint_every=checkpoint_every)
    bank = level_bank(sc, "train", n_levels, cfg.level_seed)
    n_updates = max(1, cfg.total_steps // (cfg.num_envs * cfg.num_steps))
    lrs = [
        cfg.lr * (1.0 - (i + 1) * checkpoint_every / n_updates) * checkpoint_every for i in range(len(base.checkpoints))
    ]
    net = ActorCritic(base.policy.obs_shape, 4, cfg.arch, cfg.hidden)
    obs, act = misbehaviour_steps(base.policy, sc, n_episodes, seed)
    if len(act) == 0 or not base.checkpoints:  # nothing to attribute: every level scores 0
        scores = np.zeros(n_levels)
    else:
        scores = tracin(
            net,
            base.checkpoints,
            lrs,
            lambda model: level_gradients(model, sc, bank, cfg.gamma, seed=seed),
            lambda model: misbehaviour_grad(model, obs, act),
        )
    rows = [
        {
            "method": "none",
            "m": 0,
            **evaluate(base.policy, sc, n_episodes, seed),
            "scores": scores.tolist(),
            "corrected": [],
        }
    ]
    rng = np.random.default_rng([seed, 99])
    order = np.argsort(-scores, kind="stable")
    for m in m_values:
        for method, chosen in (("tracin", order[:m]), ("random", rng.choice(n_levels, m, replace=False))):
            edited = move_coins(bank, chosen, seed)
            world = GridWorld(sc, "train", cfg.num_envs, seed=seed, bank=edited)
            result = train(sc, cfg, seed, env=world)
            rows.append(
                {
                    "method": method,
                    "m": int(m),
                    **evaluate(result.policy, sc, n_episodes, seed),
                    "scores": None,
                    "corrected": [int(c) for c in chosen],
                }
            )
    return pd.DataFrame(rows)


def ablation_cell(
    variant: str, seed: int, total_steps: int = 100_000, alpha: float = 0.0, n_episodes: int = 256
) -> dict[str, float]:
    """Same levels and rewards (coin-at-exit-v1, or coin-diverse-v1 with ``alpha``), another network
    or observation; returns every test outcome share."""
    check_choice("variant", variant, tuple(ABLATIONS))
    arch, overrides = ABLATIONS[variant]
    cfg = PPOConfig(total_steps=total_steps, arch=arch)
    if alpha == 0.0:
        sc = get_scenario("coin-at-exit-v1", **overrides)
    else:
        sc = get_scenario("coin-diverse-v1", alpha=alpha, **overrides)
    result = train_cached(sc, seed, cfg)
    return {
        **evaluate(result.policy, sc, n_episodes, seed),
        "train_H": _train_success(result.history),
        "seconds": result.seconds,
    }


def shares_summary(per_seed: pd.DataFrame, by: str, columns: Sequence[str] = OUTCOMES) -> pd.DataFrame:
    """Long table: per group (sorted) and outcome column, the seed mean with its 95% interval."""
    return shares_table(per_seed, by, columns, sort=True)
