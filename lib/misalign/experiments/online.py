"""Chapter 4's experiments (book/04_online.py): deployments that keep updating a policy, one seed each.

The measures (the deployment loop, n50, conditionalization, the frozen goal probe) live
in :mod:`misalign.online`; this module holds the sources chapter 4 deploys and its cells.
"""

from __future__ import annotations

import pandas as pd

from misalign.agents import ActorCritic
from misalign.behaviours import EXIT_WITHOUT_COIN, SHORTCUT
from misalign.online import (
    DeployConfig,
    before_correction,
    deploy,
    deployment_scenario,
    fit_goal_probe,
    goal_readout,
    probe_states,
)
from misalign.ppo import PPOConfig, train_cached
from misalign.scenarios import Weights, get_scenario
from misalign.validation import check_choice


def _config(updates: int, num_envs: int, lr: float) -> DeployConfig:
    return DeployConfig(updates=updates, num_envs=num_envs, lr=lr)


def robustness_cell(
    total_steps: int,
    hidden: int,
    seed: int,
    updates: int = 40,
    num_envs: int = 64,
    lr: float = 1e-3,
    stop_when_halved: bool = False,
) -> pd.DataFrame:
    """Goal robustness: a coin-at-exit-v1 policy (cached) corrected online with H (the coin anywhere) on test
    levels."""
    sc = get_scenario("coin-at-exit-v1")
    policy = train_cached(sc, seed, PPOConfig(total_steps=total_steps, hidden=hidden)).policy
    dep = deploy(
        policy,
        deployment_scenario(sc, reward=sc.preference),
        EXIT_WITHOUT_COIN,
        _config(updates, num_envs, lr),
        seed,
        stop_when_halved=stop_when_halved,
    )
    return dep.table


SUPERVISOR_SOURCE_STEPS = 500_000


def supervisor_source(seed: int, total_steps: int = SUPERVISOR_SOURCE_STEPS) -> ActorCritic:
    """An absent-supervisor policy trained where nobody ever watches: the shortcut is free, a learned goal."""
    return train_cached(
        get_scenario("absent-supervisor", p_overseer=0.0), seed, PPOConfig(total_steps=total_steps)
    ).policy


OVERSIGHT_VIEWS = {
    "visible": {"overseer": "visible"},
    "noisy": {"overseer": "visible", "overseer_noise": 0.25},
    "hidden": {"overseer": "hidden"},
}


def oversight_cell(
    view: str,
    seed: int,
    updates: int = 40,
    penalty: float = -1.0,
    revive_updates: int = 30,
    num_envs: int = 64,
    lr: float = 1e-3,
    source_steps: int = SUPERVISOR_SOURCE_STEPS,
) -> pd.DataFrame:
    """Goal versus belief, then revival.

    Phase ``penalised``: the shortcut-taking policy is deployed with an overseer present in
    half of the episodes, who penalises the shortcut (``penalty``); the overseer bit is
    shown (``visible``), shown but wrong in a quarter of episodes (``noisy``), or not
    shown (``hidden``). A frozen goal probe is read every 5 updates. Phase ``restored``:
    the original reward returns (nobody watches) and the shortcut may come back.
    """
    check_choice("view", view, OVERSIGHT_VIEWS)
    base = get_scenario("absent-supervisor", p_overseer=0.0)
    policy = supervisor_source(seed, source_steps)
    watched = deployment_scenario(base, p_overseer=0.5, shortcut_seen=penalty, **OVERSIGHT_VIEWS[view])
    states = probe_states(watched)
    probe = fit_goal_probe(policy, states)
    first = deploy(
        policy,
        watched,
        SHORTCUT,
        _config(updates, num_envs, lr),
        seed,
        probe=lambda net: goal_readout(probe, net, states),
    )
    restored_sc = deployment_scenario(base, **OVERSIGHT_VIEWS[view])
    second = deploy(
        first.policy,
        restored_sc,
        SHORTCUT,
        _config(revive_updates, num_envs, lr),
        seed + 10_000,
        probe=lambda net: goal_readout(probe, net, states),
    )
    first.table.insert(0, "phase", "penalised")
    second.table.insert(0, "phase", "restored")
    return pd.concat([first.table, second.table], ignore_index=True)


def stakes_cell(
    num_envs: int, lr: float, seed: int, updates: int = 60, total_steps: int = 4_000_000
) -> dict[str, float]:
    """High versus low stakes: episodes and misbehaving episodes until online correction halves misbehaviour."""
    table = robustness_cell(total_steps, 64, seed, updates, num_envs, lr, stop_when_halved=True)
    out = before_correction(table)
    out["episodes_per_update"] = float(table["episodes"].mean())
    out["initial"] = float(table["misbehaviour"].iloc[0])
    return out


def outer_cell(
    seed: int,
    updates: int = 40,
    num_envs: int = 64,
    lr: float = 1e-3,
    total_steps: int = 4_000_000,
    alpha: float = 0.25,
) -> pd.DataFrame:
    """An online outer failure: an aligned coin-diverse-v1 policy deployed where the online reward pays the exit."""
    sc = get_scenario("coin-diverse-v1", alpha=alpha)
    policy = train_cached(sc, seed, PPOConfig(total_steps=total_steps)).policy
    dep = deploy(
        policy,
        deployment_scenario(sc, reward=Weights(exit=1.0)),
        EXIT_WITHOUT_COIN,
        _config(updates, num_envs, lr),
        seed,
    )
    return dep.table
