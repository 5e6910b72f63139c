"""Results at several training budgets from one training run.

Whether a verdict holds "at 1M, 2M and 4M steps" is usually asked with three runs. One run
that keeps a copy of the policy as it passes each budget answers it for the price of the
longest, and shows how the verdict depends on the budget. The copies come from the same
run, so they share its learning-rate schedule (annealed over the whole run): the copy at
1M steps of a 4M-step run is not the policy a 1M-step run would end with, and pages that
use these copies say so. The last copy is the run's final policy, the same one
:func:`misalign.ppo.train_cached` keeps for these settings.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from misalign.agents import ActorCritic
from misalign.ppo import PPOConfig, TrainResult, train
from misalign.scenarios import Scenario
from misalign.validation import check_int_range


@dataclass
class Checkpoint:
    """A policy as it was once training had taken at least ``budget`` steps (``steps`` exactly)."""

    budget: int
    steps: int
    policy: ActorCritic


def check_budgets(at_steps: Sequence[int], total_steps: int) -> tuple[int, ...]:
    """The budgets as a sorted tuple; each must be a whole number of steps in 1..total_steps."""
    if isinstance(at_steps, (str, bytes)) or not hasattr(at_steps, "__iter__"):
        raise ValueError(f"at_steps must be a sequence of step counts in 1..{total_steps}, got {at_steps!r}")
    budgets = tuple(at_steps)
    if not budgets:
        raise ValueError(f"at_steps must name at least one step count in 1..{total_steps}")
    for b in budgets:
        check_int_range("at_steps", b, 1, total_steps)
    if len(set(budgets)) != len(budgets):
        raise ValueError(f"at_steps must not repeat a step count, got {budgets!r}")
    return tuple(sorted(budgets))


def train_with_checkpoints(
    scenario: Scenario | str, config: PPOConfig, seed: int, at_steps: Sequence[int]
) -> tuple[TrainResult, list[Checkpoint]]:
    """Train like :func:`misalign.ppo.train` and keep a copy of the policy at each budget.

    A copy is taken after the first update at which the steps taken reach the budget, so its
    ``steps`` may exceed the budget by less than one update's batch. A budget equal to
    ``config.total_steps`` is the final policy.
    """
    budgets = check_budgets(at_steps, config.total_steps)
    kept: list[Checkpoint] = []

    def keep(update: dict) -> None:
        while len(kept) < len(budgets) and update["steps"] >= budgets[len(kept)]:
            kept.append(Checkpoint(budgets[len(kept)], update["steps"], copy.deepcopy(update["net"]).eval()))

    result = train(scenario, config, seed, callback=keep)
    for budget in budgets[len(kept) :]:  # budgets the last update fell short of: the final policy
        kept.append(Checkpoint(budget, result.steps, copy.deepcopy(result.policy).eval()))
    return result, kept
