"""stable-baselines3 trains on our environments, through standard wrappers and through sb3_vec_env."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from misalign.envs import GridEnv, sb3_vec_env
from misalign.rollouts import rollout

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402


def _as_policy(model):
    return lambda obs: model.predict(obs, deterministic=False)[0]


def _random_R():
    rng = np.random.default_rng(0)
    return rollout(lambda o: rng.integers(4, size=len(o)), "coin-at-exit-v1", "train", n_episodes=256)["R"].mean()


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sb3_env_checker():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(GridEnv("keys-chests", "test"), warn=True)


def test_sb3_ppo_on_gridenv_in_standard_wrappers():
    def make(i):
        return lambda: Monitor(gym.wrappers.RecordEpisodeStatistics(GridEnv("coin-at-exit-v1")))

    venv = DummyVecEnv([make(i) for i in range(8)])
    venv.seed(0)
    model = PPO(
        "MlpPolicy", venv, n_steps=128, batch_size=256, n_epochs=4, learning_rate=1e-3, gamma=0.95, seed=0, device="cpu"
    )
    model.learn(20_000)
    trained = rollout(_as_policy(model), "coin-at-exit-v1", "train", n_episodes=256)["R"].mean()
    baseline = _random_R()
    assert baseline < 0.2
    assert trained > baseline + 0.4, (trained, baseline)
    assert len(model.ep_info_buffer) > 0


def test_sb3_dummy_vec_env_without_monitor_logs_episodes():
    """SB3 reads info["episode"]["r"] from every env: ours must not put anything else there."""
    venv = DummyVecEnv([lambda: GridEnv("coin-at-exit-v1") for _ in range(4)])
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)


def test_sb3_ppo_on_sb3_vec_env():
    venv = sb3_vec_env("coin-at-exit-v1", num_envs=64, seed=0)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=32,
        batch_size=1024,
        n_epochs=2,
        learning_rate=2.5e-3,
        gamma=0.95,
        seed=0,
        device="cpu",
    )
    model.learn(100_000)
    trained = rollout(_as_policy(model), "coin-at-exit-v1", "train", n_episodes=256)["R"].mean()
    baseline = _random_R()
    assert trained > baseline + 0.4, (trained, baseline)
    # SB3 read our episode records: its buffer holds returns in [0, 1] (coin or nothing)
    returns = [ep["r"] for ep in model.ep_info_buffer]
    assert returns and set(returns) <= {0.0, 1.0}


def test_sb3_vec_env_terminal_observation():
    venv = sb3_vec_env("coin-at-exit-v1", num_envs=16, seed=0)
    obs = venv.reset()
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(40):
        venv.step_async(rng.integers(4, size=16))
        obs, rew, done, infos = venv.step_wait()
        for i in np.flatnonzero(done):
            term = infos[i]["terminal_observation"]
            assert term.shape == obs[i].shape
            assert infos[i]["episode"]["r"] == rew[i], "coin-at-exit-v1 pays only on the last step"
            if rew[i] == 1.0:  # the coin was taken: it is gone from the terminal observation, back in the new one
                assert not np.array_equal(term, obs[i])
                seen += 1
    assert seen > 0
