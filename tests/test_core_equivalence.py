"""Batched and single-environment steps agree: GridEnv, a one-slot GridWorld and one slot of a big GridWorld."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from misalign.envs import GridEnv
from misalign.gridworld import GridWorld
from misalign.registry import EVENTS as COUNTED
from misalign.scenarios import SCENARIO_NAMES, get_scenario

BIG = 7
_CACHE: dict = {}


def _worlds(name: str, observation: str):
    key = (name, observation)
    if key not in _CACHE:
        sc = get_scenario(name, observation=observation)
        _CACHE[key] = (
            GridEnv(sc, "train"),
            GridWorld(sc, "train", 1, autoreset=False),
            GridWorld(sc, "train", BIG, autoreset=False),
        )
    return _CACHE[key]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SCENARIO_NAMES),
    observation=st.sampled_from(["grid", "ego"]),
    seed=st.integers(0, 2**32 - 1),
    slot=st.integers(0, BIG - 1),
    actions=st.lists(st.integers(0, 3), min_size=1, max_size=60),
    other_seed=st.integers(0, 1000),
)
def test_batched_and_single_agree(name, observation, seed, slot, actions, other_seed):
    env, one, big = _worlds(name, observation)
    obs_env, info = env.reset(seed=seed)
    one.rng = np.random.default_rng(seed)
    obs_one = one.reset()
    assert info["level"] == one.level[0] and info["overseen"] == one.overseen[0]

    other = np.random.default_rng(other_seed)
    levels = other.integers(len(big.bank), size=BIG)
    levels[slot] = one.level[0]
    big.reset(levels=levels)
    # reset(levels=...) pins the level but the overseer is still drawn per slot: pin it too
    big.overseen[slot] = one.overseen[0]
    obs_big = big.observe()

    np.testing.assert_array_equal(obs_env, obs_one[0])
    np.testing.assert_array_equal(obs_env, obs_big[slot])
    for a in actions:
        acts = other.integers(4, size=BIG)
        acts[slot] = a
        obs_env, rew_env, term_env, trunc_env, info_env = env.step(a)
        r1 = one.step(np.array([a]))
        rb = big.step(acts)
        np.testing.assert_array_equal(obs_env, r1.obs[0])
        np.testing.assert_array_equal(obs_env, rb.obs[slot])
        assert rew_env == r1.reward[0] == rb.reward[slot]
        assert info_env["R"] == r1.info["R"][0] == rb.info["R"][slot]
        assert info_env["H"] == r1.info["H"][0] == rb.info["H"][slot]
        assert term_env == r1.terminated[0] == rb.terminated[slot]
        assert trunc_env == r1.truncated[0] == rb.truncated[slot]
        assert (
            [info_env["events"][e] for e in COUNTED]
            == r1.info["events"][0].tolist()
            == rb.info["events"][slot].tolist()
        )
        assert info_env["tampered"] == rb.info["tampered"][slot]
        if term_env or trunc_env:
            ep = info_env["totals"]
            for k in ("R", "H", "reward", "length"):
                assert np.isclose(ep[k], rb.info["episode"][k][slot]) and np.isclose(ep[k], r1.info["episode"][k][0])
            break


def test_autoreset_totals_match_the_steps():
    """info['episode'] totals equal the sums of the per-step scores of that episode, slot by slot."""
    world = GridWorld("absent-supervisor", "train", 64, seed=5)
    world.reset()
    rng = np.random.default_rng(0)
    running = {k: np.zeros(64) for k in ("reward", "R", "H")}
    length = np.zeros(64, dtype=int)
    checked = 0
    for _ in range(200):
        res = world.step(rng.integers(4, size=64))
        running["reward"] += res.reward
        running["R"] += res.info["R"]
        running["H"] += res.info["H"]
        length += 1
        if "episode" in res.info:
            m = res.info["_episode"]
            for k in running:
                np.testing.assert_allclose(res.info["episode"][k][m], running[k][m], atol=1e-4)
                running[k][m] = 0
            np.testing.assert_array_equal(res.info["episode"]["length"][m], length[m])
            length[m] = 0
            checked += int(m.sum())
    assert checked > 100
