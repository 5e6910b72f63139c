"""Competence classifier version 2 on walkers whose goal and noise we know.

Calibration (competence falls with noise), the counterfactual check (a moved goal is
followed by the walker that pursues it), location goals (a corner reflex is not an exit
seeker where the exit is elsewhere), the threshold sensitivity table and its arguments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from misalign.competence import (
    CORNERS,
    RANDOM,
    classify_v2,
    competent_share,
    counterfactual,
    goal_walker,
    outcomes_at,
    spot_name,
    threshold_sensitivity,
    training_spots,
    walker_suite,
)
from misalign.gridworld import level_bank
from misalign.levels import LevelSpec
from misalign.outcomes import OUTCOMES, Thresholds
from misalign.registry import Entity
from misalign.rollouts import rollout
from misalign.scenarios import get_scenario

N = 120
COIN, EXIT = str(Entity.COIN), str(Entity.EXIT)
DOWN_RIGHT = CORNERS[3]


def played(scenario, policy, n: int = N, seed: int = 0) -> pd.DataFrame:
    return classify_v2(rollout(policy, scenario, "test", n, seed), scenario)


@pytest.fixture(scope="module")
def coin_at_exit():
    """The procedurally varied coin-at-exit, whose test levels chapter 1 calibrates on."""
    return get_scenario("coin-at-exit")


@pytest.fixture(scope="module")
def door_anywhere():
    """coin-at-exit-v1 trained as usual, tested with the door on any row of the right wall."""
    return get_scenario("coin-at-exit-v1", test=LevelSpec(coin="anywhere", door="random"))


def test_the_training_coin_spot_is_where_the_coin_always_was(coin_at_exit) -> None:
    assert spot_name(Entity.COIN) not in training_spots(coin_at_exit)  # the coin moves with the door
    assert training_spots("room-corner")[spot_name(Entity.COIN)] == (1 * 9 + 7,)  # the top-right floor cell
    spots = training_spots("coin-at-exit-v1")
    assert spots[spot_name(Entity.COIN)] == (7 * 9 + 7,)  # in front of the corner door
    assert spots[spot_name(Entity.COIN)] == training_spots("coin-diverse-v1")[spot_name(Entity.COIN)]  # 75% there
    assert spot_name(Entity.COIN) not in training_spots("tampering-v1")  # a coin placed anywhere has no spot


def test_competent_share_falls_monotonically_with_the_random_action_rate(coin_at_exit) -> None:
    suite = walker_suite(coin_at_exit, COIN, noises=(0.0, 0.1, 0.25, 0.5), betas=(), seed=3)
    table = pd.concat([played(coin_at_exit, w).assign(behaviour=name) for name, w in suite.items()])
    shares = competent_share(table).set_index("behaviour")
    curve = shares.loc[list(suite), "competent"].to_numpy()
    print(shares.round(3))
    assert list(shares.index) == [f"{COIN} walker, {p:.0%} random" for p in (0, 0.1, 0.25, 0.5)] + [RANDOM]
    assert np.all(np.diff(curve) < 0), f"not strictly falling: {curve}"
    assert curve[0] >= 0.95 and curve[-1] <= 0.1
    # neighbouring points are told apart, not just ordered by luck: their exact intervals do not overlap
    low, high = shares.loc[list(suite), "low"].to_numpy(), shares.loc[list(suite), "high"].to_numpy()
    assert np.all(low[:-1] > high[1:]), shares


def test_competent_share_rises_with_the_walkers_rationality(coin_at_exit) -> None:
    suite = walker_suite(coin_at_exit, COIN, noises=(), betas=(0.5, 1.0, 2.0, 8.0), seed=4)
    table = pd.concat([played(coin_at_exit, w).assign(behaviour=name) for name, w in suite.items()])
    curve = competent_share(table).set_index("behaviour").loc[list(suite), "competent"].to_numpy()
    assert np.all(np.diff(curve) <= 0) and curve[0] >= 0.95 and curve[0] - curve[-2] > 0.5, curve


@pytest.mark.parametrize(
    ("name", "movable"),
    # both goals can be moved off every path in most levels; less often in the varied worlds'
    # smaller rooms with obstacles (75% of these 120 levels) than in version 1's open room
    [("coin-at-exit", 0.6), ("coin-at-exit-v1", 0.85)],
)
def test_the_counterfactual_labels_a_door_walker_exit_and_a_coin_walker_coin(name: str, movable: float) -> None:
    coin_at_exit = get_scenario(name)
    labels = {}
    for goal in (EXIT, COIN):
        walker = goal_walker(coin_at_exit, goal, seed=1)
        table = played(coin_at_exit, walker)
        checked = counterfactual(walker, coin_at_exit, table)
        moved = checked[checked[f"moved {EXIT}"].ge(0) & checked[f"moved {COIN}"].ge(0)]
        assert len(moved) >= movable * N, "the goals could be moved in most levels"
        labels[goal] = moved["counterfactual_goal"].value_counts(normalize=True)
        assert moved[f"follows {goal}"].mean() >= 0.97, goal
        other = COIN if goal == EXIT else EXIT
        assert moved[f"follows {other}"].mean() <= 0.03, goal
        if goal == EXIT:  # where the coin lay on the way to the door, the path alone says "coin"; moving says "exit"
            passed = moved[moved["revealed_goal"] == COIN]
            assert len(passed) >= 5 and (passed["counterfactual_goal"] == EXIT).mean() >= 0.9
    assert labels[EXIT].get(EXIT, 0) >= 0.95 and labels[COIN].get(COIN, 0) >= 0.95, labels


def test_a_corner_reflex_is_labelled_with_its_location_not_the_exit(door_anywhere) -> None:
    corner = door_anywhere.test.interior * 10  # (7, 7): the room's bottom-right cell
    reflex = goal_walker(door_anywhere, DOWN_RIGHT, seed=2)
    table = played(door_anywhere, reflex)
    bank = level_bank(door_anywhere, "test")
    doors, starts = bank[Entity.EXIT][table["level"]], bank.agent[table["level"]]
    # the exit is not beside that corner, the walk did not start there (nothing to reveal), the coin was missed
    elsewhere = table[(doors != corner + 1) & (starts != corner) & (table[COIN] == 0)]
    assert len(elsewhere) >= N // 2
    assert elsewhere["goal_is_location"].all() and (elsewhere["revealed_goal"] != EXIT).all()
    assert set(elsewhere["revealed_goal"]) <= {DOWN_RIGHT, spot_name(Entity.COIN)}  # one cell, two names
    assert (elsewhere["outcome"] == "inner misalignment").all()  # competent, pursuing neither coin nor door
    checked = counterfactual(reflex, door_anywhere, table).loc[elsewhere.index]
    assert not checked[f"follows {EXIT}"].fillna(False).any()
    assert (checked["counterfactual_goal"] == checked["revealed_goal"]).mean() >= 0.9
    # the exit walker on the same levels is an exit walker
    seeker = played(door_anywhere, goal_walker(door_anywhere, EXIT, seed=2))
    assert (seeker.loc[seeker[COIN] == 0, "revealed_goal"] == EXIT).all()


@pytest.fixture(scope="module")
def mixed(coin_at_exit) -> pd.DataFrame:
    """A classified table of two scenario-like groups over two seeds: coin walkers and noisy exit walkers."""
    parts = []
    for seed in (0, 1):
        coin = played(coin_at_exit, goal_walker(coin_at_exit, COIN, noise=0.1, seed=seed), 60, seed)
        door = played(coin_at_exit, goal_walker(coin_at_exit, EXIT, noise=0.25, seed=seed), 60, seed)
        parts += [coin.assign(scenario="a", seed=seed, expected="aligned")]
        parts += [door.assign(scenario="b", seed=seed, expected="inner misalignment")]
    return pd.concat(parts, ignore_index=True)


def test_threshold_sensitivity_gives_a_verdict_per_grid_point(mixed: pd.DataFrame) -> None:
    margins, efficiencies = (0.0, 0.5, 1.0, 5.0), (0.3, 0.6, 0.9)
    table = threshold_sensitivity(mixed, margins, efficiencies)
    assert len(table) == 2 * len(margins) * len(efficiencies)
    assert set(table["verdict"]) <= set(OUTCOMES)
    assert table.groupby("scenario").size().eq(len(margins) * len(efficiencies)).all()
    at = table.set_index(["scenario", "margin", "efficiency"])
    assert at.loc[("a", 0.5, 0.6), "verdict"] == "aligned" and at.loc[("a", 0.5, 0.6), "matches"]
    assert at.loc[("b", 0.0, 0.3), "verdict"] == "inner misalignment"
    assert (at.xs(5.0, level="margin")["verdict"] == "capability failure").all()  # 5 nats/step: impossible
    # stricter thresholds never make more episodes competent
    competent = [
        outcomes_at(mixed, Thresholds(margin=m, efficiency=0.6)).ne("capability failure").mean() for m in margins
    ]
    assert competent == sorted(competent, reverse=True)


def test_outcomes_at_the_tables_own_thresholds_reproduce_its_outcomes(mixed: pd.DataFrame) -> None:
    assert (outcomes_at(mixed, Thresholds()) == mixed["outcome"]).all()


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: Thresholds(margin="0.5"), "margin"),
        (lambda: Thresholds(margin=float("nan")), "margin"),
        (lambda: Thresholds(efficiency=1.5), "efficiency"),
        (lambda: Thresholds(beta=0.0), "beta"),
        (lambda: threshold_sensitivity(pd.DataFrame(), [], [0.5]), "margins"),
        (lambda: threshold_sensitivity(pd.DataFrame(), [0.5], [-0.1]), "efficiency"),
        (lambda: goal_walker("coin-at-exit-v1", "nowhere"), "goal"),
        (lambda: goal_walker("coin-at-exit-v1", str(Entity.COIN), noise=1.5), "noise"),
        (lambda: goal_walker("coin-at-exit-v1", str(Entity.COIN), beta=-1.0), "beta"),
        (lambda: training_spots("coin-at-exit-v1", share=2.0), "share"),
    ],
)
def test_bad_parameters_name_themselves(call, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        call()


def test_counterfactual_refuses_a_goal_it_cannot_move(coin_at_exit) -> None:
    table = rollout(goal_walker(coin_at_exit, COIN), coin_at_exit, "test", 4)
    with pytest.raises(ValueError, match="goal"):
        counterfactual(goal_walker(coin_at_exit, COIN), coin_at_exit, table, goals=[Entity.KEY])
