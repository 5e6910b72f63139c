"""Rollouts: run any policy on fixed levels and tabulate one row per episode.

A policy here is anything that maps a batch of observations (numpy, ``(n, obs_dim)``)
to a batch of actions: our :class:`~misalign.agents.ActorCritic` (wrapped with a seeded
sampler), a scripted policy, or another library's model wrapped in a function. So the
analyses of the later chapters are learner-agnostic.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from misalign.agents import ActorCritic, PolicyFn
from misalign.gridworld import COUNTED, GridWorld, level_bank
from misalign.scenarios import Scenario, get_scenario
from misalign.validation import check_int_range

Policy = Callable[[np.ndarray], np.ndarray]


def as_policy(policy: Policy | ActorCritic, seed: int = 0, greedy: bool = False) -> Policy:
    """A plain function from observations to actions."""
    return PolicyFn(policy, seed, greedy) if isinstance(policy, ActorCritic) else policy


def rollout(policy: Policy | ActorCritic, scenario: Scenario | str, split: str = "test", n_episodes: int = 256,
            seed: int = 0, *, level_seed: int = 0, greedy: bool = False, env: GridWorld | None = None) -> pd.DataFrame:
    """Play one episode on each of the first ``n_episodes`` levels of the split's bank.

    Columns: ``level``, ``return`` (observed reward), ``R`` (untampered reward), ``H``
    (preference), one count per event (``coin``, ``exit``, ``key``, ``chest``,
    ``checkpoint``, ``sensor``, ``shortcut``), ``length``, ``tampered``, ``overseen``,
    ``outcome_event`` (what ended the episode, or ``timeout``) and ``trajectory`` (the
    agent's flat cells, start included) with ``actions``.
    """
    scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
    check_int_range("n_episodes", n_episodes, 1, 10_000_000)
    if env is None:
        bank = level_bank(scenario, split, max(n_episodes, 1), level_seed) if n_episodes > len(
            level_bank(scenario, split, None, level_seed)) else level_bank(scenario, split, None, level_seed)
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
            for j, name in ((0, "coin"), (1, "exit")):
                ended_by[res.terminated & ev[:, j]] = name
            ended_by[res.terminated & ~ev[:, 0] & ~ev[:, 1]] = "done"
            done |= mask
    traj = np.stack(trajectory, axis=1)
    acts = np.stack(actions, axis=1)
    table = pd.DataFrame({"level": records["level"], "return": records["reward"], "R": records["R"], "H": records["H"],
                          **{name: records[name] for name in COUNTED}, "length": records["length"],
                          "tampered": records["tampered"], "overseen": records["overseen"], "outcome_event": ended_by})
    table["trajectory"] = [t[: n + 1].tolist() for t, n in zip(traj, records["length"])]
    table["actions"] = [a[:n].tolist() for a, n in zip(acts, records["length"])]
    table.insert(0, "split", env.split)
    table.insert(0, "scenario", scenario.name)
    return table


def coin_outcomes(table: pd.DataFrame) -> pd.Series:
    """Per episode: 'coin' (got the coin), 'exit without coin', or 'neither' (the coin scenarios' three outcomes)."""
    out = np.where(table["coin"] > 0, "coin", np.where(table["exit"] > 0, "exit without coin", "neither"))
    return pd.Series(out, index=table.index, name="coin_outcome")


COIN_OUTCOMES = ("coin", "exit without coin", "neither")


def coin_outcome_shares(table: pd.DataFrame) -> dict[str, float]:
    """Share of episodes in each of the three coin outcomes (they sum to one)."""
    counts = coin_outcomes(table).value_counts(normalize=True)
    return {name: float(counts.get(name, 0.0)) for name in COIN_OUTCOMES}


def train_and_test(scenario: str, seed: int, total_steps: int = 4_000_000, n_episodes: int = 500,
                   **overrides) -> dict[str, float]:
    """One sweep cell: train on the scenario's training split, return coin-outcome shares on both splits.

    The returned keys are ``train_<outcome>`` and ``test_<outcome>`` for each of
    :data:`COIN_OUTCOMES`, plus the training steps and seconds.
    """
    from misalign.ppo import PPOConfig, train_cached

    result = train_cached(scenario, seed, PPOConfig(total_steps=total_steps), **overrides)
    out: dict[str, float] = {"steps": result.steps, "seconds": result.seconds}
    for split in ("train", "test"):
        shares = coin_outcome_shares(rollout(result.policy, get_scenario(scenario, **overrides), split, n_episodes, seed=seed))
        out.update({f"{split}_{k}": v for k, v in shares.items()})
    return out
