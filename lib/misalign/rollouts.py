"""Rollouts: run any policy on fixed levels and tabulate one row per episode.

A policy here is anything that maps a batch of observations (numpy, ``(n, obs_dim)``)
to a batch of actions: our :class:`~misalign.agents.ActorCritic` (wrapped with a seeded
sampler), a scripted policy, or another library's model wrapped in a function. So the
analyses of the later chapters are learner-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from misalign.agents import ActorCritic, PolicyFn
from misalign.behaviours import coin_outcome_shares
from misalign.gridworld import GridWorld, level_bank
from misalign.ppo import PPOConfig, train_cached
from misalign.registry import EVENTS, Entity
from misalign.scenarios import SPLITS, Scenario, as_scenario, get_scenario
from misalign.validation import check_int_range

Policy = Callable[[np.ndarray], np.ndarray]


def as_policy(policy: Policy | ActorCritic, seed: int = 0, greedy: bool = False) -> Policy:
    """A plain function from observations to actions."""
    return PolicyFn(policy, seed, greedy) if isinstance(policy, ActorCritic) else policy


def rollout(
    policy: Policy | ActorCritic,
    scenario: Scenario | str,
    split: str = "test",
    n_episodes: int = 256,
    seed: int = 0,
    *,
    level_seed: int = 0,
    greedy: bool = False,
    env: GridWorld | None = None,
) -> pd.DataFrame:
    """Play one episode on each of the first ``n_episodes`` levels of the split's bank.

    Columns: ``level``, ``return`` (observed reward), ``R`` (untampered reward), ``H``
    (preference), one count per event (``coin``, ``exit``, ``key``, ``chest``,
    ``checkpoint``, ``sensor``, ``shortcut``), ``length``, ``tampered``, ``overseen``,
    ``outcome_event`` (what ended the episode, or ``timeout``) and ``trajectory`` (the
    agent's flat cells, start included) with ``actions``.
    """
    scenario = as_scenario(scenario)
    check_int_range("n_episodes", n_episodes, 1, 10_000_000)
    if env is None:
        bank = level_bank(scenario, split, None, level_seed, at_least=n_episodes)
        env = GridWorld(scenario, split, n_episodes, seed=seed, bank=bank, autoreset=False)
    act = as_policy(policy, seed, greedy)
    obs = env.reset(levels=np.arange(env.num_envs) % len(env.bank))
    trajectory = [env.pos.copy()]
    actions = []
    records: dict[str, np.ndarray] = {}
    done = np.zeros(env.num_envs, dtype=bool)
    ended_by = np.full(env.num_envs, "timeout", dtype=object)
    while not done.all():
        a = np.asarray(act(obs)).reshape(-1)
        res = env.step(a)
        actions.append(np.where(done, -1, a))
        trajectory.append(np.where(done, -1, env.pos))
        obs = res.obs
        if "episode" in res.info:
            mask = res.info["_episode"]
            for key, vals in res.info["episode"].items():
                records.setdefault(key, np.zeros_like(vals))[mask] = vals[mask]
            ev = res.info["events"]
            coin, door = ev[:, EVENTS.index(Entity.COIN)], ev[:, EVENTS.index(Entity.EXIT)]
            ended_by[res.terminated & coin] = Entity.COIN.value
            ended_by[res.terminated & door] = Entity.EXIT.value
            ended_by[res.terminated & ~coin & ~door] = "done"
            done |= mask
    traj = np.stack(trajectory, axis=1)
    acts = np.stack(actions, axis=1)
    table = pd.DataFrame(
        {
            "level": records["level"],
            "return": records["reward"],
            "R": records["R"],
            "H": records["H"],
            **{str(e): records[e] for e in EVENTS},
            "length": records["length"],
            "tampered": records["tampered"],
            "overseen": records["overseen"],
            "outcome_event": ended_by,
        }
    )
    table["trajectory"] = [t[: n + 1].tolist() for t, n in zip(traj, records["length"], strict=True)]
    table["actions"] = [a[:n].tolist() for a, n in zip(acts, records["length"], strict=True)]
    table.insert(0, "split", env.split)
    table.insert(0, "scenario", scenario.name)
    return table


def train_and_test(
    scenario: str, seed: int, total_steps: int = 4_000_000, n_episodes: int = 500, **overrides: Any
) -> pd.DataFrame:
    """One sweep cell: train on a scenario's training split (``get_scenario(scenario, **overrides)``),
    then the coin-outcome shares on both splits.

    A long table: one row per split and coin outcome (``split``, ``outcome``, ``share``),
    with the training steps and seconds repeated on every row.
    """
    sc = get_scenario(scenario, **overrides)
    result = train_cached(sc, seed, PPOConfig(total_steps=total_steps))
    rows = [
        {"split": split, "outcome": outcome, "share": share}
        for split in SPLITS
        for outcome, share in coin_outcome_shares(rollout(result.policy, sc, split, n_episodes, seed=seed)).items()
    ]
    table = pd.DataFrame(rows)
    table["steps"], table["seconds"] = result.steps, result.seconds
    return table
