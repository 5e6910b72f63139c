"""The gymnasium face: env checker, make_vec, registered ids; and bad inputs fail early and clearly."""

from __future__ import annotations

import warnings

import gymnasium as gym
import misalign
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from misalign.envs import GridEnv, env_id
from misalign.gridworld import GridWorld, level_bank
from misalign.levels import LevelSpec, generate_bank
from misalign.ppo import PPOConfig
from misalign.rollouts import rollout
from misalign.scenarios import SCENARIO_NAMES, SPLITS, get_scenario

IDS = list(misalign.REGISTERED_IDS)


def test_every_scenario_split_is_registered():
    assert len(IDS) == len(SCENARIO_NAMES) * len(SPLITS) == 26  # 7 version-1 and 6 varied scenarios
    assert set(IDS) == {env_id(n, s) for n in SCENARIO_NAMES for s in SPLITS}
    assert "misalign/CoinAtExit-Train-v0" in IDS
    assert all(i in gym.registry for i in IDS)


@pytest.mark.parametrize("eid", IDS)
def test_env_checker_passes(eid):
    env = gym.make(eid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports most problems as warnings
        check_env(env.unwrapped, skip_render_check=False)
    assert isinstance(env.unwrapped, GridEnv)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert env.unwrapped.render_mode is None or env.render() is not None


@pytest.mark.parametrize("eid", IDS)
def test_make_vec_vector_entry_point(eid):
    venv = gym.make_vec(eid, num_envs=6, vectorization_mode="vector_entry_point")
    try:
        assert venv.num_envs == 6
        obs, _ = venv.reset(seed=3)
        assert obs.shape == (6, venv.single_observation_space.shape[0])
        assert venv.observation_space.contains(obs)
        rng = np.random.default_rng(0)
        finished = 0
        for _ in range(80):
            obs, rew, term, trunc, info = venv.step(rng.integers(4, size=6))
            assert obs.shape == (6, venv.single_observation_space.shape[0]) and rew.shape == (6,)
            assert venv.observation_space.contains(obs), "observation outside the declared space"
            for k in ("R", "H", "tampered", "overseen", "events"):
                assert len(info[k]) == 6
            if (term | trunc).any():
                done = term | trunc
                assert np.array_equal(info["_totals"], done)
                assert "episode" not in info, "the key belongs to gymnasium's RecordEpisodeStatistics"
                assert np.array_equal(info["_final_obs"], done)
                finished += int(done.sum())
        assert finished > 0, "80 random steps should end some episodes (max_steps <= 48)"
    finally:
        venv.close()


def test_standard_episode_statistics_wrappers_accept_our_envs():
    env = gym.wrappers.RecordEpisodeStatistics(GridEnv("coin-at-exit-v1"))
    env.reset(seed=0)
    done, steps = False, 0
    while not done:
        _, _, term, trunc, info = env.step(steps % 4)
        done, steps = term or trunc, steps + 1
    assert info["episode"]["l"] == steps and info["totals"]["length"] == steps
    venv = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec("misalign/CoinAtExit-Train-v0", num_envs=4, vectorization_mode="vector_entry_point")
    )
    venv.reset(seed=0)
    both = 0
    for t in range(80):
        _, _, term, trunc, info = venv.step(np.full(4, t % 4))
        if "episode" in info:
            assert "totals" in info
            np.testing.assert_array_equal(
                info["episode"]["l"][info["_episode"]], info["totals"]["length"][info["_totals"]]
            )
            both += 1
    assert both > 0


def test_render_rgb_array():
    env = GridEnv("coin-at-exit-v1", render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.dtype == np.uint8 and img.shape == (9 * 12, 9 * 12, 3)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
@pytest.mark.parametrize("split", SPLITS)
def test_observations_stay_inside_the_declared_box_when_everything_is_collected(scenario, split):
    """Walk to every entity of a few levels (keys included): the observation never leaves [0, 1]."""
    from conftest import bfs_path

    world = GridWorld(scenario, split, 1, autoreset=False)
    b = world.bank
    for level in range(5):
        obs = world.reset(levels=[level])
        assert obs.min() >= 0.0 and obs.max() <= 1.0
        targets = [*b["key"][level], *b["chest"][level], b["sensor"][level], b["checkpoint"][level]]
        for goal in [int(t) for t in targets if t >= 0]:
            if world.done[0]:
                break
            path = bfs_path(b.walls[level], b.size, int(world.pos[0]), goal, avoid=[b["coin"][level], b["exit"][level]])
            for a in path or []:
                if world.done[0]:
                    break
                obs = world.step(np.array([a])).obs
                assert obs.min() >= 0.0 and obs.max() <= 1.0, (scenario, split, level)


# ----------------------------------------------------------------------------- bad inputs


def _raises(param: str, accepted: str):
    """ValueError whose message names the parameter and then the accepted values or range."""
    return pytest.raises(ValueError, match=rf"(?s){param}.*{accepted}")


def test_unknown_scenario():
    with _raises("scenario", "accepted: .*'coin-at-exit-v1'"):
        get_scenario("nope")
    with _raises("scenario", "accepted"):
        GridWorld("nope")
    with _raises("scenario", "accepted"):
        GridEnv("nope")


def test_unknown_override():
    with _raises("override", "accepted"):
        get_scenario("coin-at-exit-v1", max_stepz=3)


@pytest.mark.parametrize("size", [3, 4, 32, 100])
def test_impossible_grid_size(size):
    with _raises("size", r"\[5, 31\]"):
        LevelSpec(size=size)


@pytest.mark.parametrize("size", [6, 8, 12, 14])
def test_even_maze_size(size):
    with _raises("size", "accepted: odd"):
        LevelSpec(size=size, layout="maze")


def test_even_embedded_maze_room_is_rejected():
    with pytest.raises(ValueError, match=r"(?s)room.*odd"):
        LevelSpec(size=11, layout="maze", room=6)


@pytest.mark.parametrize(
    "call,param",
    [
        (lambda: get_scenario("coin-diverse-v1", alpha=1.5), "alpha"),
        (lambda: get_scenario("coin-diverse-v1", alpha=-0.01), "alpha"),
        (lambda: LevelSpec(coin_elsewhere=-0.1), "coin_elsewhere"),
        (lambda: LevelSpec(coin_elsewhere=1.01), "coin_elsewhere"),
        (lambda: get_scenario("absent-supervisor", p_overseer=2.0), "p_overseer"),
        (lambda: get_scenario("coin-at-exit-v1", p_overseer=float("nan")), "p_overseer"),
    ],
)
def test_probability_outside_unit_interval(call, param):
    with _raises(param, r"\[0, 1\]"):
        call()


def test_counts_and_seeds_must_be_in_range():
    spec = LevelSpec()
    with _raises("n_levels", r"\[1, "):
        generate_bank(spec, 0, 0)
    with _raises("n_levels", r"\[1, "):
        generate_bank(spec, -5, 0)
    with _raises("seed", r"\[0, "):
        generate_bank(spec, 10, -1)
    with _raises("num_envs", r"\[1, "):
        GridWorld("coin-at-exit-v1", num_envs=0)
    with _raises("num_envs", r"\[1, "):
        GridWorld("coin-at-exit-v1", num_envs=-3)
    with _raises("seed", r"\[0, "):
        GridWorld("coin-at-exit-v1", seed=-1)
    with _raises("n_episodes", r"\[1, "):
        rollout(lambda o: np.zeros(len(o), dtype=int), "coin-at-exit-v1", n_episodes=0)
    with _raises("num_envs", r"\[1, "):
        PPOConfig(num_envs=0)
    with _raises("n_keys", r"\[0, 8\]"):
        LevelSpec(n_keys=9)
    with _raises("size", r"\[5, 31\]"):
        LevelSpec(size=7.0)  # a float is not an integer size


@pytest.mark.parametrize(
    "call",
    [
        lambda: GridWorld("coin-at-exit-v1", split="val"),
        lambda: GridEnv("coin-at-exit-v1", split="validation"),
        lambda: level_bank("coin-at-exit-v1", "dev"),
        lambda: get_scenario("coin-at-exit-v1").split("Train"),
        lambda: rollout(lambda o: np.zeros(len(o), dtype=int), "coin-at-exit-v1", split="eval", n_episodes=4),
    ],
)
def test_unknown_split(call):
    with _raises("split", "accepted: 'train', 'test'"):
        call()


@pytest.mark.parametrize(
    "call,param",
    [
        (lambda: LevelSpec(layout="hexagon"), "layout"),
        (lambda: LevelSpec(coin="somewhere"), "coin"),
        (lambda: LevelSpec(door="left"), "door"),
        (lambda: get_scenario("coin-at-exit-v1", observation="pixels"), "observation"),
        (lambda: get_scenario("absent-supervisor", overseer="sometimes"), "overseer"),
    ],
)
def test_unknown_choices(call, param):
    with _raises(param, "accepted"):
        call()


@pytest.mark.parametrize("actions", [[4, 0, 0], [-1, 0, 0], [0, 0], [0, 0, 0, 0]])
def test_bad_actions_batched(actions):
    world = GridWorld("coin-at-exit-v1", num_envs=3)
    world.reset()
    with _raises("actions", r"(0\.\.3|one entry per environment)"):
        world.step(np.array(actions))


@pytest.mark.parametrize("action", [4, -1, 17])
def test_bad_action_single(action):
    env = GridEnv("coin-at-exit-v1")
    env.reset(seed=0)
    with _raises("action", r"0\.\.3"):
        env.step(action)


def test_bad_pinned_levels():
    world = GridWorld("coin-at-exit-v1", num_envs=2, n_levels=10)
    with _raises("levels", r"\[0, 10\)"):
        world.reset(levels=[0, 10])
    with _raises("levels", "2 indices"):
        world.reset(levels=[0])
