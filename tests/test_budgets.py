"""Results at several budgets from one run: the copies are the run's own policies, in order."""

from __future__ import annotations

import pytest
import torch
from misalign.budgets import budgets_at, check_budgets, train_with_checkpoints, train_with_checkpoints_cached
from misalign.experiments.budgets import budget_curve_cell
from misalign.outcomes import OUTCOMES
from misalign.ppo import PPOConfig, train, train_cached
from misalign.scenarios import get_scenario

SMALL = PPOConfig(total_steps=4096, num_envs=16, num_steps=32, minibatch_size=512)  # 8 updates of 512 steps


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_copies_are_taken_at_the_first_update_past_each_budget_and_the_last_is_the_final_policy() -> None:
    result, kept = train_with_checkpoints("room-corner", SMALL, 3, at_steps=(2048, 1000, 4096))
    assert [c.budget for c in kept] == [1000, 2048, 4096]
    assert [c.steps for c in kept] == [1024, 2048, 4096]
    assert _same(kept[-1].policy, result.policy)
    assert not _same(kept[0].policy, kept[-1].policy)  # training moved on after the first copy
    plain = train("room-corner", SMALL, 3)  # keeping copies does not change the run
    assert _same(plain.policy, result.policy)


def test_a_budget_past_the_last_update_gets_the_final_policy() -> None:
    cfg = PPOConfig(total_steps=5000, num_envs=16, num_steps=32, minibatch_size=512)  # 9 updates: 4,608 steps
    result, kept = train_with_checkpoints("room-corner", cfg, 0, at_steps=(5000,))
    assert kept[0].steps == result.steps == 4608
    assert _same(kept[0].policy, result.policy)


@pytest.mark.parametrize("bad", [(), (0,), (4097,), (1000, 1000), "4096", 4096, (1.5,)])
def test_bad_budgets_name_the_parameter(bad: object) -> None:
    with pytest.raises(ValueError, match="at_steps"):
        check_budgets(bad, 4096)


def test_budget_curve_cell_classifies_every_copy_on_the_same_test_levels() -> None:
    episodes = budget_curve_cell("room-corner", 0, total_steps=16384, at_steps=(8192, 16384), n_episodes=8)
    assert sorted(episodes["budget"].unique()) == [8192, 16384]
    assert episodes.groupby("budget").size().tolist() == [8, 8]
    assert set(episodes["outcome"]) <= set(OUTCOMES)
    assert episodes.groupby("budget")["train_steps"].first().tolist() == [8192, 16384]


def test_cached_copies_are_reused_and_the_final_policy_is_train_cacheds(tmp_path, monkeypatch) -> None:
    log = tmp_path / "policies.log"
    monkeypatch.setenv("MISALIGN_POLICY_LOG", str(log))
    sc = get_scenario("room-corner")
    result, kept = train_with_checkpoints_cached(sc, SMALL, 3, (1000, 4096), cache_dir=str(tmp_path))
    again, reloaded = train_with_checkpoints_cached(sc, SMALL, 3, (1000, 4096), cache_dir=str(tmp_path))
    final = train_cached(sc, 3, SMALL, cache_dir=str(tmp_path))  # the chapter's other sections load it
    events = [line.split()[0] for line in log.read_text().splitlines()]
    assert events == ["trained", "loaded", "loaded"]  # one training run for all three calls
    assert [(c.budget, c.steps) for c in kept] == [(1000, 1024), (4096, 4096)]
    assert [(c.budget, c.steps) for c in reloaded] == [(c.budget, c.steps) for c in kept]
    assert all(_same(a.policy, b.policy) for a, b in zip(kept, reloaded, strict=True))
    assert _same(final.policy, result.policy) and _same(again.policy, result.policy)
    # other budgets are another set of copies: trained again, not read from the first set
    _, other = train_with_checkpoints_cached(sc, SMALL, 3, (2048,), cache_dir=str(tmp_path))
    assert log.read_text().splitlines()[-1].split()[0] == "trained" and other[0].steps == 2048


def test_a_final_policy_without_its_copies_is_trained_again_with_them(tmp_path) -> None:
    sc = get_scenario("room-corner")
    plain = train_cached(sc, 1, SMALL, cache_dir=str(tmp_path))
    result, kept = train_with_checkpoints_cached(sc, SMALL, 1, (2048, 4096), cache_dir=str(tmp_path))
    assert _same(result.policy, plain.policy) and _same(kept[-1].policy, plain.policy)
    assert len(list((tmp_path / "policies").glob("*-at*.pt"))) == 2


@pytest.mark.parametrize("bad", [(), (0.0,), (1.5,), (-0.5,), "0.5", 0.5, (True,)])
def test_bad_budget_fractions_name_the_parameter(bad: object) -> None:
    with pytest.raises(ValueError, match="fractions"):
        budgets_at(bad, 4096)


def test_budget_fractions_round_to_steps_in_order() -> None:
    assert budgets_at((0.5, 0.125, 1.0), 4_000_000) == (500_000, 2_000_000, 4_000_000)
    assert budgets_at((0.001,), 100) == (1,)  # never below one step
