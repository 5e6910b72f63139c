"""Framing 1.5 tools: correction budgets, the reward-correcting world, coin edits and TracIn on known cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from misalign.agents import ActorCritic
from misalign.attribution import flat_grad, level_gradients, misbehaviour_grad, tracin
from misalign.corrections import CorrectedRewardWorld, correction_budget, indifference_share, move_coins
from misalign.experiments.causes import ablation_cell, alpha_cell, reward_correction_cell
from misalign.gridworld import GridWorld, level_bank
from misalign.scenarios import get_scenario

# ----------------------------------------------------------------------------- budgets


def _table(values: dict[float, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"x": x, "seed": s, "y": v} for x, vs in values.items() for s, v in enumerate(vs)])


def test_budget_is_first_grid_value_from_which_mean_stays_below() -> None:
    table = _table({0.0: [0.9, 0.8, 0.85], 0.1: [0.5, 0.6, 0.55], 0.2: [0.1, 0.3, 0.2], 0.4: [0.0, 0.02, 0.01]})
    budget = correction_budget(table, "x", "y", threshold=0.25)
    assert budget["point"] == 0.2
    assert budget["optimistic"] <= budget["point"] <= budget["conservative"]
    assert budget["conservative"] == 0.4  # 0.2's interval reaches above 0.25


def test_budget_ignores_a_lucky_dip_and_reports_inf_when_nothing_works() -> None:
    dip = _table({0.0: [0.9] * 3, 0.1: [0.05] * 3, 0.2: [0.6] * 3, 0.4: [0.1] * 3})
    assert correction_budget(dip, "x", "y", 0.2)["point"] == 0.4
    never = _table({0.0: [0.9] * 3, 0.5: [0.8] * 3})
    assert correction_budget(never, "x", "y", 0.2)["point"] == float("inf")
    with pytest.raises(ValueError, match="not in per_seed"):
        correction_budget(never, "alpha", "y", 0.2)


def test_indifference_share_equalises_the_mixed_rewards() -> None:
    k = indifference_share(r_bad=4.0, h_bad=0.0, r_good=1.0, h_good=1.0)
    assert k == pytest.approx(0.75)
    assert (1 - k) * 4.0 + k * 0.0 == pytest.approx((1 - k) * 1.0 + k * 1.0)
    assert indifference_share(0.5, 0.0, 1.0, 1.0) == 0.0  # the bad behaviour never paid more


# ----------------------------------------------------------------------------- TracIn on a supervised toy


def _train_logistic(x: torch.Tensor, y: torch.Tensor, steps: int = 200, lr: float = 0.5, every: int = 20):
    """Full-batch gradient descent on a bias-free logistic regression, keeping checkpoints."""
    model = torch.nn.Linear(x.shape[1], 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    checkpoints, lrs = [], []
    for step in range(steps):
        if step % every == 0:
            checkpoints.append({k: v.clone() for k, v in model.state_dict().items()})
            lrs.append(lr * every)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y, reduction="sum")
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            model.weight -= lr * model.weight.grad / len(x)
    return model, checkpoints, lrs


def _per_item_descent(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    params = list(model.parameters())
    rows = []
    for xi, yi in zip(x, y, strict=True):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xi[None]).squeeze(), yi)
        rows.append(-flat_grad(loss, params))
    return torch.stack(rows)


def test_tracin_finds_the_one_training_point_that_decides_a_test_prediction() -> None:
    # features are groups (one-hot): groups 0 and 1 have three points each, group 2 a single point
    groups = [0, 0, 0, 1, 1, 1, 2]
    labels = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    x = torch.nn.functional.one_hot(torch.tensor(groups), 3).float()
    y = torch.tensor(labels)
    model, checkpoints, lrs = _train_logistic(x, y)
    test_x = torch.tensor([[0.0, 0.0, 1.0]])  # a test point of group 2, predicted positive
    assert torch.sigmoid(model(test_x)).item() > 0.8

    def test_grad(m: torch.nn.Module) -> torch.Tensor:  # log-probability of the predicted label
        return flat_grad(torch.nn.functional.logsigmoid(m(test_x)).squeeze(), list(m.parameters()))

    scores = tracin(
        torch.nn.Linear(3, 1, bias=False), checkpoints, lrs, lambda m: _per_item_descent(m, x, y), test_grad
    )
    assert int(np.argmax(scores)) == 6
    assert scores[6] > 0 and np.allclose(scores[:6], 0.0)
    # ground truth by retraining: without point 6 the prediction falls to a coin flip
    retrained, _, _ = _train_logistic(x[:6], y[:6])
    assert torch.sigmoid(retrained(test_x)).item() == pytest.approx(0.5)


def test_tracin_signs_proponents_and_opponents() -> None:
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])  # two proponents and one opponent of "group 0 is positive"
    _, checkpoints, lrs = _train_logistic(x, y)
    test_x = torch.tensor([[1.0, 0.0]])

    def test_grad(m: torch.nn.Module) -> torch.Tensor:
        return flat_grad(torch.nn.functional.logsigmoid(m(test_x)).squeeze(), list(m.parameters()))

    scores = tracin(
        torch.nn.Linear(2, 1, bias=False), checkpoints, lrs, lambda m: _per_item_descent(m, x, y), test_grad
    )
    assert scores[0] > 0 and scores[1] > 0 and scores[2] < 0 and scores[3] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="equal length"):
        tracin(torch.nn.Linear(2, 1), checkpoints, lrs[:-1], lambda m: None, test_grad)


# ----------------------------------------------------------------------------- reward corrections


def _play(world: GridWorld, steps: int = 200, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    world.reset()
    out = []
    for _ in range(steps):
        flags = world.corrected.copy() if isinstance(world, CorrectedRewardWorld) else None
        res = world.step(rng.integers(4, size=world.num_envs))
        out.append((res, flags))
    return out


def test_no_correction_is_the_plain_world_and_full_correction_pays_h() -> None:
    sc = get_scenario("checkpoint-v1")
    plain = _play(GridWorld(sc, "train", 64, seed=3))
    same = _play(CorrectedRewardWorld(sc, "train", 64, seed=3, k=0.0))
    for (a, _), (b, _) in zip(plain, same, strict=True):
        np.testing.assert_array_equal(a.reward, b.reward)
        np.testing.assert_array_equal(a.obs, b.obs)
    for res, _ in _play(CorrectedRewardWorld(sc, "train", 64, seed=3, k=1.0)):
        np.testing.assert_array_equal(res.reward, res.info["H"])
    assert any((res.info["R"] != res.info["H"]).any() for res, _ in plain)  # the test can fail


def test_partial_correction_pays_h_exactly_in_the_flagged_episodes() -> None:
    sc = get_scenario("checkpoint-v1")
    world = CorrectedRewardWorld(sc, "train", 256, seed=1, k=0.3)
    flagged = []
    for res, flags in _play(world, 100):
        np.testing.assert_array_equal(res.reward, np.where(flags, res.info["H"], res.info["R"]))
        flagged.append(flags.mean())
    assert 0.2 < np.mean(flagged) < 0.4
    with pytest.raises(ValueError, match="k must be a probability"):
        CorrectedRewardWorld(sc, "train", 4, k=1.5)


# ----------------------------------------------------------------------------- coin edits


def test_move_coins_moves_only_the_chosen_coins_to_free_cells() -> None:
    bank = level_bank("coin-at-exit-v1", "train", 16)
    before = bank["coin"].copy()
    edited = move_coins(bank, [2, 5], seed=0)
    np.testing.assert_array_equal(bank["coin"], before)  # the original is untouched
    changed = np.flatnonzero(edited["coin"] != bank["coin"])
    assert changed.tolist() == [2, 5]
    for i in (2, 5):
        cell = edited["coin"][i]
        assert not bank.walls[i, cell] and cell not in (bank.agent[i], bank["exit"][i], bank["coin"][i])
        assert edited.coin_moved[i]
    with pytest.raises(ValueError, match="level"):
        move_coins(bank, [16])


def test_moved_coin_is_collectable_in_the_world() -> None:
    sc = get_scenario("coin-at-exit-v1")
    edited = move_coins(level_bank(sc, "train", 4), [0], seed=1)
    world = GridWorld(sc, "train", 1, bank=edited, autoreset=False)
    obs = world.reset(levels=[0]).reshape(world.obs_shape)
    assert obs[world.channels.index("coin")].reshape(-1)[edited["coin"][0]] == 1.0


# ----------------------------------------------------------------------------- RL attribution pieces


def test_level_gradients_one_row_per_level_and_zero_for_a_frozen_policy_head() -> None:
    sc = get_scenario("coin-at-exit-v1")
    bank = level_bank(sc, "train", 5)
    torch.manual_seed(0)
    world = GridWorld(sc, "train", 1, bank=bank)
    net = ActorCritic(world.obs_shape)
    grads = level_gradients(net, sc, bank, episodes_per_level=2)
    assert grads.shape == (5, sum(p.numel() for p in net.parameters()))
    assert torch.isfinite(grads).all() and grads.abs().sum() > 0
    # the value head gets no gradient from the policy-gradient surrogate (advantages are detached)
    value_cols = sum(p.numel() for p in net.parameters()) - net.value.weight.numel() - net.value.bias.numel()
    assert grads[:, value_cols:].abs().sum() == 0
    obs = torch.as_tensor(world.reset(levels=[0]))
    g = misbehaviour_grad(net, obs, torch.tensor([1]))
    assert g.shape == grads.shape[1:]


def test_cells_reject_bad_settings() -> None:
    with pytest.raises(ValueError, match="alpha"):
        alpha_cell(1.5, 0)
    with pytest.raises(ValueError, match="k must"):
        reward_correction_cell(-0.1, 0)
    with pytest.raises(ValueError, match="variant"):
        ablation_cell("transformer", 0)
