"""The training engine's shortcuts keep the maths: folded inputs, numpy rollout, sampling, GAE, Adam."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from misalign.agents import ActorCritic, FoldedForward
from misalign.corrections import move_coins
from misalign.gridworld import GridWorld
from misalign.ppo import Adam, gae, log_softmax_actions, sample_actions
from misalign.scenarios import SCENARIO_NAMES, get_scenario


def _observations(world: GridWorld, steps: int = 150, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    obs = [world.reset()]
    for _ in range(steps):
        obs.append(world.step(rng.integers(4, size=world.num_envs)).obs)
    return np.concatenate(obs)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
@pytest.mark.parametrize("split", ["train", "test"])
def test_constant_inputs_hold_in_every_observation(name, split):
    world = GridWorld(name, split, 64, seed=1)
    constant = world.constant_inputs()
    fixed = ~np.isnan(constant)
    assert fixed.any(), "the border wall at least never changes"
    obs = _observations(world)
    np.testing.assert_array_equal(obs[:, fixed], np.broadcast_to(constant[fixed], obs[:, fixed].shape))


def test_constant_inputs_follow_an_edited_bank_and_the_ego_view():
    world = GridWorld("coin-diverse-v1", "train", 64)
    edited = GridWorld("coin-diverse-v1", "train", 64, bank=move_coins(world.bank, range(200), seed=3))
    fixed = ~np.isnan(edited.constant_inputs())
    obs = _observations(edited)
    assert (obs[:, fixed] == edited.constant_inputs()[fixed]).all()
    assert np.isnan(GridWorld(get_scenario("coin-at-exit-v1", observation="ego"), num_envs=4).constant_inputs()).all()


@pytest.mark.parametrize("name", SCENARIO_NAMES)
@pytest.mark.parametrize("observation", ["grid", "ego"])
def test_observing_some_inputs_equals_selecting_them(name, observation):
    sc = get_scenario(name, observation=observation)
    full, part = (GridWorld(sc, "train", 32, seed=4, final_obs=True) for _ in range(2))
    rng = np.random.default_rng(0)
    keep = np.flatnonzero(np.isnan(full.constant_inputs()))
    picks = [keep, np.sort(rng.choice(full.obs_dim, full.obs_dim // 3, replace=False))]
    for inputs in picks:
        with part.observing(inputs):
            np.testing.assert_array_equal(part.reset(), full.reset()[:, inputs])
            for _ in range(60):
                actions = rng.integers(4, size=32)
                a, b = part.step(actions), full.step(actions)
                np.testing.assert_array_equal(a.obs, b.obs[:, inputs])
                np.testing.assert_array_equal(a.reward, b.reward)
                if "final_obs" in b.info:
                    np.testing.assert_array_equal(a.info["final_obs"], b.info["final_obs"][:, inputs])
        assert part.observe().shape == (32, full.obs_dim), "full observations again after the block"


@pytest.mark.parametrize("name", ["coin-diverse-v1", "keys-chests", "absent-supervisor"])
def test_folded_forward_matches_the_dense_network_and_its_gradients(name):
    world = GridWorld(name, "train", 128, seed=2)
    obs = _observations(world, steps=20)[-256:]
    torch.manual_seed(0)
    net = ActorCritic(world.obs_shape)
    fwd = FoldedForward(net, world.constant_inputs())
    assert len(fwd.keep) < world.obs_dim
    x = obs[:, fwd.keep]

    logits, value = net(torch.from_numpy(obs))
    roll_logits, roll_value = fwd.rollout(x)
    np.testing.assert_allclose(roll_logits, logits.detach().numpy().T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(roll_value, value.detach().numpy(), rtol=1e-5, atol=1e-5)

    def grads(out: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        net.zero_grad()
        lp = log_softmax_actions(out[0])
        (lp[1].sum() + (out[1] ** 2).mean() - (lp.exp() * lp).sum()).backward()
        return {k: p.grad.clone() for k, p in net.named_parameters()}

    dense = grads(net(torch.from_numpy(obs)))
    folded = grads(fwd(torch.from_numpy(x)))
    for k in dense:
        torch.testing.assert_close(folded[k], dense[k], rtol=1e-4, atol=1e-5)


def test_folded_forward_keeps_other_bodies_whole():
    world = GridWorld("coin-at-exit-v1", num_envs=8)
    net = ActorCritic(world.obs_shape, arch="cnn")
    fwd = FoldedForward(net, world.constant_inputs())
    obs = world.reset()
    assert len(fwd.keep) == world.obs_dim
    logits, value = fwd.rollout(obs[:, fwd.keep])
    ref_logits, ref_value = net(torch.from_numpy(obs))
    np.testing.assert_allclose(logits, ref_logits.detach().numpy().T, rtol=1e-6)
    np.testing.assert_allclose(value, ref_value.detach().numpy(), rtol=1e-6)


def test_sample_actions_draws_from_the_softmax():
    logits = np.array([[2.0, -1.0], [0.5, 0.0], [-1.0, 3.0], [0.0, 0.2]], dtype=np.float32)  # (actions, columns)
    n = 200_000
    wide = np.tile(logits, (1, n // 2))  # columns alternate: 0, 1, 0, 1, ...
    action, logp = sample_actions(wide, np.random.default_rng(0))
    probs = np.exp(logits - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
    for col in range(2):
        freq = np.bincount(action[col::2], minlength=4) / (n // 2)
        np.testing.assert_allclose(freq, probs[:, col], atol=4e-3)
    expected = np.log(probs)[action, np.arange(n) % 2]
    np.testing.assert_allclose(logp, expected, rtol=1e-5, atol=1e-6)


def test_gae_matches_the_textbook_recursion():
    rng = np.random.default_rng(0)
    T, N, gamma, lam = 7, 5, 0.95, 0.9
    rewards = rng.random((T, N)).astype(np.float32)
    values = rng.random((T + 1, N)).astype(np.float32)
    dones = (rng.random((T, N)) < 0.3).astype(np.float32)
    expected = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            alive = 1.0 - dones[t, n]
            delta = rewards[t, n] + gamma * values[t + 1, n] * alive - values[t, n]
            running = delta + gamma * lam * alive * running
            expected[t, n] = running
    np.testing.assert_allclose(gae(rewards, values, dones, gamma, lam), expected, rtol=1e-5, atol=1e-6)


def test_adam_matches_torch_adam():
    torch.manual_seed(0)
    ours, theirs = ActorCritic((4, 9, 9)), ActorCritic((4, 9, 9))
    theirs.load_state_dict(ours.state_dict())
    opt_ours = Adam(ours.parameters(), lr=3e-3, eps=1e-5)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=3e-3, eps=1e-5)
    x = torch.rand(64, 324)
    for step in range(20):
        for net, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            logits, value = net(x)
            (logits.square().mean() + (value - step / 10).square().mean()).backward()
            opt.step()
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)
