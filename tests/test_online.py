"""The online deployment loop (Framing 3), on scripted cases whose outcome is known in advance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from misalign.agents import ActorCritic
from misalign.gridworld import GridWorld, level_bank
from misalign.online import (
    DeployConfig,
    before_correction,
    catastrophe_probability,
    conditionalization,
    deploy,
    deployment_scenario,
    fit_goal_probe,
    goal_readout,
    n50,
    probe_states,
    rises_to,
)
from misalign.ppo import PPOConfig, train
from misalign.scenarios import Weights, get_scenario


def _always(scenario, action: int, strength: float = 50.0) -> ActorCritic:
    """A network that ignores its input and takes ``action`` (with near certainty at strength 50)."""
    env = GridWorld(scenario, "train", 1)
    net = ActorCritic(env.obs_shape, 4, "mlp", 16)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.policy.bias[action] = strength
    return net


def test_deployment_scenario_trains_on_test_levels_with_the_new_reward() -> None:
    sc = get_scenario("coin-at-exit-v1")
    dep = deployment_scenario(sc, reward=sc.preference, max_steps=20)
    assert dep.train == sc.test and dep.test == sc.test
    assert dep.reward == sc.preference and dep.max_steps == 20
    assert deployment_scenario(sc).reward == sc.reward


def test_frozen_scripted_walker_misbehaves_at_the_known_rate() -> None:
    # Always moving right from the left half of the absent-supervisor room crosses the shortcut
    # exactly when the episode starts on the top row (row 1); from rows 2-4 it bumps the wall, from
    # rows 5-7 it passes below and never reaches the door. With a learning rate of ~0 nothing changes.
    sc = deployment_scenario(get_scenario("absent-supervisor", p_overseer=0.0))
    bank = level_bank(sc, "train")
    expected = float((bank.agent // bank.size == 1).mean())
    walker = _always(sc, 1)
    dep = deploy(walker, sc, "shortcut", DeployConfig(updates=12, num_envs=256, lr=1e-12), seed=3)
    t = dep.table.dropna(subset=["misbehaviour"])
    pooled = (t["misbehaviour"] * t["episodes"]).sum() / t["episodes"].sum()
    se = np.sqrt(expected * (1 - expected) / t["episodes"].sum())
    assert abs(pooled - expected) < 4 * se + 1e-9, (pooled, expected)
    assert np.isnan(n50(dep.table)), "a frozen policy's misbehaviour never halves"
    # the deployed network is a copy: the original is untouched
    assert dep.policy is not walker and torch.equal(walker.policy.bias, _always(sc, 1).policy.bias)


def test_online_reward_moves_behaviour_in_its_direction() -> None:
    # A near-uniform fresh network; the online reward pays (+1) or charges (-1) the shortcut tile.
    base = get_scenario("absent-supervisor", p_overseer=0.0)
    cfg = DeployConfig(updates=15, num_envs=64, lr=1e-2)
    rates = {}
    for sign in (1.0, -1.0):
        sc = deployment_scenario(base, reward=Weights(exit=0.0, shortcut=sign))
        net = ActorCritic(GridWorld(sc, "train", 1).obs_shape, 4, "mlp", 32)
        torch.manual_seed(0)
        t = deploy(net, sc, "shortcut", cfg, seed=1).table.dropna(subset=["misbehaviour"])
        rates[sign] = (t["misbehaviour"].iloc[:3].mean(), t["misbehaviour"].iloc[-3:].mean())
    assert rates[1.0][1] > rates[1.0][0] + 0.1, rates
    assert rates[-1.0][1] < rates[1.0][1] - 0.2, rates


def test_callback_stops_training_and_sees_every_finished_episode() -> None:
    sc = get_scenario("coin-at-exit-v1")
    seen = []
    res = train(
        sc,
        PPOConfig(total_steps=64 * 32 * 5, num_envs=64, num_steps=32),
        seed=0,
        callback=lambda info: seen.append(len(info["episodes"].get("R", []))) or info["update"] == 3,
    )
    assert len(res.history) == 3 and len(seen) == 3
    assert sum(seen) == res.history["episodes"].iloc[-1]


def test_callback_leaves_training_unchanged() -> None:
    sc = get_scenario("coin-at-exit-v1")
    cfg = PPOConfig(total_steps=64 * 32 * 3, num_envs=64, num_steps=32)
    a = train(sc, cfg, seed=0).history.drop(columns="seconds")
    b = train(sc, cfg, seed=0, callback=lambda info: False).history.drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


def test_noisy_overseer_shows_the_wrong_bit_at_the_stated_rate() -> None:
    for noise in (0.0, 0.25):
        sc = get_scenario("absent-supervisor", overseer_noise=noise)
        world = GridWorld(sc, "train", 4000, seed=0)
        obs = world.reset().reshape(4000, *world.obs_shape)
        shown = obs[:, world.channels.index("overseer")].max(axis=(1, 2)) > 0
        wrong = float((shown != world.overseen).mean())
        assert abs(wrong - noise) < 0.03, (noise, wrong)
    with pytest.raises(ValueError, match="overseer_noise"):
        get_scenario("absent-supervisor", overseer_noise=1.5)


def test_summaries_on_known_tables() -> None:
    t = pd.DataFrame(
        {
            "update": [0, 1, 2, 3],
            "episodes": [10, 10, 10, 10],
            "misbehaviour": [0.8, 0.6, 0.4, 0.1],
            "misbehaviour_observed": [0.8, 0.2, 0.0, 0.0],
            "misbehaviour_unobserved": [0.8, 0.9, 0.8, 0.2],
        }
    )
    assert n50(t, window=1) == 2.0
    assert n50(t, window=2) == 2.0  # pooled (0.4 + 0.1) / 2 <= 0.4; at update 1 (0.6 + 0.4) / 2 > 0.4
    assert n50(t.assign(misbehaviour=[0.8, 0.3, 0.9, 0.9]), window=3) != 1.0  # one lucky update is not a trend
    assert rises_to(t, 0.6, window=1) == 0.0 and np.isnan(rises_to(t, 0.9, window=1))
    out = before_correction(t, window=1)
    assert out["episodes_before"] == 20 and out["misbehaving_before"] == pytest.approx(14)
    assert conditionalization(t).tolist() == pytest.approx([0.0, 0.7, 0.8, 0.2])
    never = t.assign(misbehaviour=[0.8, 0.8, 0.7, 0.6])
    assert np.isnan(n50(never)) and before_correction(never)["episodes_before"] == 40
    assert n50(t.assign(misbehaviour=[0.0, 0.1, 0.2, 0.3])) == 0.0
    assert catastrophe_probability(np.array([5, 15, 40]), np.array([1, 10, 20, 50])).tolist() == pytest.approx(
        [1, 2 / 3, 1 / 3, 0]
    )


def test_probe_states_point_at_the_shortcut_and_a_scripted_goal_is_read() -> None:
    sc = deployment_scenario(get_scenario("absent-supervisor", p_overseer=0.5))
    states = probe_states(sc, n_levels=6)
    assert len(states.target) > 10 and states.ok[np.arange(len(states.target)), states.target].all()
    assert not np.array_equal(states.obs_seen, states.obs_unseen)  # the overseer bit differs
    # a network that always goes up: the policy readout equals the share of states where up is shortcut-ward
    net = _always(sc, 0)
    probe = fit_goal_probe(ActorCritic(GridWorld(sc, "train", 1).obs_shape, 4, "mlp", 16), states)
    out = goal_readout(probe, net, states)
    assert out["policy_observed"] == pytest.approx(states.ok[:, 0].mean())
    assert 0.0 <= out["probe_unobserved"] <= 1.0
