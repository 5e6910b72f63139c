"""Same seed, same results: rollouts, PPO weights, save/load round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from misalign.agents import ActorCritic, PolicyFn, load_policy, save_policy
from misalign.behaviours import coin_outcomes
from misalign.envs import GridEnv
from misalign.gridworld import GridWorld
from misalign.ppo import PPOConfig, train
from misalign.rollouts import rollout

SMALL = PPOConfig(total_steps=50_000)


def _net(scenario="coin-at-exit-v1", seed=0, arch="mlp"):
    torch.manual_seed(seed)
    return ActorCritic(GridWorld(scenario, num_envs=1).obs_shape, arch=arch)


@pytest.mark.parametrize("scenario", ["coin-at-exit-v1", "absent-supervisor", "keys-chests"])
def test_rollouts_repeat_exactly(scenario):
    net = _net(scenario)
    a = rollout(net, scenario, "test", n_episodes=64, seed=3)
    b = rollout(net, scenario, "test", n_episodes=64, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 64 and a["level"].tolist() == list(range(64))
    c = rollout(net, scenario, "test", n_episodes=64, seed=4)
    assert a["actions"].tolist() != c["actions"].tolist(), "another seed samples other actions"
    assert (a["length"] == a["trajectory"].map(len) - 1).all()


def test_rollout_table_is_consistent():
    net = _net()
    t = rollout(net, "coin-at-exit-v1", "test", n_episodes=128, seed=0)
    outcomes = coin_outcomes(t)
    assert set(outcomes) <= {"coin", "exit without coin", "neither"}
    assert ((t["coin"] > 0) == (t["outcome_event"] == "coin")).all()
    assert ((t["R"] == t["coin"]) & (t["H"] == t["coin"])).all()
    assert (t.loc[t["outcome_event"] == "timeout", "length"] == 32).all()


def test_ppo_same_seed_bit_identical_other_seed_differs():
    a, b, c = (
        train("coin-at-exit-v1", SMALL, seed=0),
        train("coin-at-exit-v1", SMALL, seed=0),
        train("coin-at-exit-v1", SMALL, seed=1),
    )
    sa, sb, sc = a.policy.state_dict(), b.policy.state_dict(), c.policy.state_dict()
    assert a.steps == b.steps > 0
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    pd.testing.assert_frame_equal(a.history.drop(columns="seconds"), b.history.drop(columns="seconds"))


@pytest.mark.parametrize("arch", ["mlp", "cnn", "coordcnn"])
def test_save_load_round_trip(tmp_path, arch):
    net = _net(seed=7, arch=arch)
    path = tmp_path / "sub" / "policy.pt"
    save_policy(net, path, meta={"seed": 7, "scenario": "coin-at-exit-v1"})
    assert list(path.parent.iterdir()) == [path], "no temporary file left behind"
    loaded = load_policy(path)
    assert loaded.config() == net.config()
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    obs = GridWorld("coin-at-exit-v1", num_envs=64).reset()
    np.testing.assert_array_equal(PolicyFn(net, 5)(obs), PolicyFn(loaded, 5)(obs))
    np.testing.assert_array_equal(net.act(obs, greedy=True), loaded.act(obs, greedy=True))
    blob = torch.load(path, weights_only=True)
    assert blob["meta"] == {"seed": 7, "scenario": "coin-at-exit-v1"}


def test_load_policy_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": {}, "state_dict": {}, "meta": {"obj": object()}}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported"):
        load_policy(path)


def test_gridenv_reset_seed_repeats():
    env = GridEnv("absent-supervisor")
    first = [env.reset(seed=s)[1] for s in range(20)]
    again = [env.reset(seed=s)[1] for s in range(20)]
    assert first == again
    assert len({d["level"] for d in first}) > 10
