"""Framing 2's measurements recover what was planted: probes, (partial) correlations, VIFs, steering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from misalign.agents import ActorCritic
from misalign.goals import GoalCriteria, classify_goal, classify_goals, value_correlations
from misalign.grid import distances
from misalign.gridworld import GridWorld, level_bank
from misalign.probes import hidden_and_value, probe_direction, probe_score, random_network
from misalign.scenarios import get_scenario
from misalign.states import States, cell_states, policy_states
from misalign.steering import decision_mask, goalward_share, random_direction, steered_probs


def _planted(n: int = 20_000, rho: float = 0.8, sigma: float = 0.5, seed: int = 0):
    """Two features with correlation rho; the value depends on the first only."""
    rng = np.random.default_rng(seed)
    f1 = rng.normal(size=n)
    f2 = rho * f1 + np.sqrt(1 - rho**2) * rng.normal(size=n)
    value = f1 + sigma * rng.normal(size=n)
    return pd.DataFrame({"final": f1, "means": f2}), value


def test_partial_correlations_recover_the_planted_structure():
    rho, sigma = 0.8, 0.5
    feats, value = _planted(rho=rho, sigma=sigma)
    table = value_correlations(value, feats).set_index("feature")
    r_final = 1 / np.sqrt(1 + sigma**2)
    # analytic values: r(v, f1), r(v, f2) = rho r(v, f1), partial(v, f1 | f2), partial(v, f2 | f1) = 0
    assert table.loc["final", "r"] == pytest.approx(r_final, abs=0.02)
    assert table.loc["means", "r"] == pytest.approx(rho * r_final, abs=0.02)
    assert table.loc["final", "partial"] == pytest.approx(
        np.sqrt(1 - rho**2) / np.sqrt(1 - rho**2 + sigma**2), abs=0.02
    )
    assert table.loc["means", "partial"] == pytest.approx(0.0, abs=0.03)
    assert table.loc["final", "vif"] == pytest.approx(1 / (1 - rho**2), rel=0.05)


def test_spearman_partial_ignores_a_monotone_transform():
    feats, value = _planted()
    pear = value_correlations(np.exp(2 * value), feats, method="pearson").set_index("feature")
    spear = value_correlations(np.exp(2 * value), feats, method="spearman").set_index("feature")
    assert spear.loc["final", "r"] > pear.loc["final", "r"] + 0.1
    assert abs(spear.loc["means", "partial"]) < 0.03


def test_collinear_features_get_a_huge_vif():
    rng = np.random.default_rng(1)
    a = rng.normal(size=2000)
    feats = pd.DataFrame({"a": a, "b": 0.95 * a + 1e-3 * rng.normal(size=2000)})
    table = value_correlations(a + rng.normal(size=2000), feats).set_index("feature")
    assert table.loc["a", "vif"] > 1000


def test_planted_features_classify_as_final_and_instrumental():
    feats, value = _planted()
    rng = np.random.default_rng(2)
    feats["noise"] = rng.normal(size=len(feats))
    table = value_correlations(value, feats)
    table["represented"] = True
    verdict = dict(zip(table["feature"], classify_goals(table), strict=True))
    assert verdict == {"final": "final goal", "means": "instrumental goal", "noise": "not a goal"}


def test_classify_goal_rules():
    c = GoalCriteria(strong=0.5, keep=0.5)
    assert classify_goal(0.9, 0.8, True, c) == "final goal"
    assert classify_goal(0.9, 0.1, True, c) == "instrumental goal"
    assert classify_goal(0.9, 0.8, False, c) == "not a goal"  # not represented
    assert classify_goal(-0.9, -0.8, True, c) == "not a goal"  # value falls with it: something avoided, not sought
    assert classify_goal(0.3, 0.3, True, c) == "not a goal"


def test_probe_recovers_a_planted_linear_feature_and_controls_do_not():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 32))
    w = rng.normal(size=32)
    signal = x @ w
    y = signal + rng.normal(size=4000) * signal.std()  # R^2 of the best linear predictor: 0.5
    groups = np.arange(4000) // 40
    assert probe_score(x, y, groups) == pytest.approx(0.5, abs=0.05)
    assert probe_score(x, y, groups, shuffle=True) < 0.02
    labels = (signal > 0).astype(int)
    assert probe_score(x, labels, groups, kind="classification") > 0.95
    assert probe_score(x, labels, groups, kind="classification", shuffle=True) < 0.6
    direction = probe_direction(x, signal)
    assert abs(direction @ (w / np.linalg.norm(w))) > 0.99


def test_probe_score_rejects_bad_input():
    with pytest.raises(ValueError, match="kind"):
        probe_score(np.zeros((10, 2)), np.zeros(10), kind="ranking")
    with pytest.raises(ValueError, match="same number of rows"):
        probe_score(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="method"):
        value_correlations(np.zeros(3), pd.DataFrame({"a": [1.0, 2.0, 3.0]}), method="kendall")


def _net(seed: int = 0) -> ActorCritic:
    torch.manual_seed(seed)
    return ActorCritic((4, 9, 9), 4, "mlp", 16)


def test_steering_hooks_edit_only_inside_the_call():
    net = _net()
    obs = np.random.default_rng(0).random((50, 4 * 81)).astype(np.float32)
    plain = torch.softmax(net(torch.as_tensor(obs))[0], -1).detach().numpy()
    same, _ = steered_probs(net, obs, "h2", np.zeros(16))
    np.testing.assert_allclose(same, plain, atol=1e-6)
    # a big push along the policy head's row for action 2 makes action 2 almost certain
    w = net.policy.weight.detach().numpy().astype(float)
    push = np.linalg.lstsq(w, np.array([-1.0, -1.0, 1.0, -1.0]), rcond=None)[0]  # raises logit 2, lowers the rest
    steered, _ = steered_probs(net, obs, "h2", 100 * push / np.abs(w @ push).max())
    assert steered[:, 2].min() > 0.99
    # ablating the value head's direction at h2 leaves only its bias
    u = net.value.weight[0].detach().numpy()
    _, value = steered_probs(net, obs, "h2", project_out=u / np.linalg.norm(u))
    np.testing.assert_allclose(value, net.value.bias.item(), atol=1e-5)
    # the hooks are gone afterwards
    after = torch.softmax(net(torch.as_tensor(obs))[0], -1).detach().numpy()
    np.testing.assert_allclose(after, plain, atol=1e-6)
    with pytest.raises(ValueError, match="layer"):
        steered_probs(net, obs, "h7")


def test_random_direction_has_the_requested_norm_and_varies_with_seed():
    a, b = random_direction(64, 3.0, 0), random_direction(64, 3.0, 1)
    assert np.linalg.norm(a) == pytest.approx(3.0)
    assert abs(a @ b) / 9.0 < 0.5


def test_goalward_share_counts_probability_at_decision_states_only():
    toward = {
        "coin": np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=bool),
        "exit": np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=bool),
    }
    states = States(np.zeros((3, 1)), pd.DataFrame({"level": [0, 0, 0]}), toward)
    np.testing.assert_array_equal(decision_mask(states, "coin", "exit"), [True, False, True])
    probs = np.array([[0.7, 0.1, 0.1, 0.1], [1.0, 0, 0, 0], [0.1, 0.3, 0.3, 0.3]])
    assert goalward_share(probs, states, "coin", "exit") == pytest.approx((0.7 + 0.3) / 2)


def test_cell_states_features_and_moves_match_shortest_paths():
    sc = get_scenario("coin-at-exit-v1")
    states = cell_states(sc, "test", 5, gamma=0.9)
    bank = level_bank(sc, "test")
    size = bank.size
    for row, coin_moves in zip(states.table.itertuples(), states.toward["coin"], strict=True):
        walls = bank.walls[row.level].reshape(size, size)
        d = distances(walls, int(bank["coin"][row.level]))
        assert row.near_coin == pytest.approx(0.9 ** d[row.cell])
        assert coin_moves.any()
        for a in np.flatnonzero(coin_moves):
            r, c = divmod(row.cell, size)
            nxt = (r + (-1, 0, 1, 0)[a]) * size + c + (0, 1, 0, -1)[a]
            assert d[nxt] == d[row.cell] - 1
    # the counterfactual without the coin pairs row by row and differs only in the coin channel
    cf = cell_states(sc, "test", 5, gamma=0.9, without="coin")
    pd.testing.assert_frame_equal(cf.table, states.table)
    world = GridWorld(sc, "test", 1)
    coin_ch = world.channels.index("coin")
    diff = (cf.obs - states.obs).reshape(len(states), len(world.channels), -1)
    assert np.all(diff[:, coin_ch].sum(1) == -1)
    assert np.all(np.delete(diff, coin_ch, axis=1) == 0)


def test_policy_states_on_keys_chests_track_keys_held():
    states = policy_states(None, "keys-chests", "train", 64, seed=0)
    t = states.table
    assert t["keys_held"].max() >= 1 and (t["keys_held"] == 0).any()
    # holding a key, the next chest is the nearest chest; without one, it is further
    held = t[t["keys_held"] > 0]
    np.testing.assert_allclose(held["next_chest"], held["near_chest"])
    assert (t.loc[t["keys_held"] == 0, "next_chest"] <= t.loc[t["keys_held"] == 0, "near_chest"] + 1e-12).all()
    assert t["chests_left"].between(0, 2).all()


def test_random_network_matches_shape_and_differs_in_weights():
    net = _net()
    rnd = random_network(net, 5)
    obs = np.zeros((3, 4 * 81), dtype=np.float32)
    hidden, value = hidden_and_value(rnd, obs)
    assert set(hidden) == {"h1", "h2"} and hidden["h2"].shape == (3, 16) and value.shape == (3,)
    assert not torch.equal(rnd.layers[0].weight, net.layers[0].weight)
