"""Results at several training budgets from one training run.

Whether a verdict holds "at 1M, 2M and 4M steps" is usually asked with three runs. One run
that keeps a copy of the policy as it passes each budget answers it for the price of the
longest, and shows how the verdict depends on the budget. The copies come from the same
run, so they share its learning-rate schedule (annealed over the whole run): the copy at
1M steps of a 4M-step run is not the policy a 1M-step run would end with, and pages that
use these copies say so. The last copy is the run's final policy, the same one
:func:`misalign.ppo.train_cached` keeps for these settings; :func:`train_with_checkpoints_cached`
saves the copies beside it, so a chapter that trains its policies keeping copies gets the
verdict over budgets without a second run.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from misalign.agents import ActorCritic, load_policy, policy_meta, save_policy
from misalign.ppo import PPOConfig, TrainResult, policy_files, store_trained, train, train_cached
from misalign.scenarios import Scenario
from misalign.validation import check_int_range

# The fewest training steps a scaled-down budget may reach (the chapters' rule since the
# start; it equals one update of the default PPOConfig, 256 envs x 32 steps).
MIN_TRAINING_STEPS = 8192


def scaled_budget(total_steps: int, budget_scale: float) -> int:
    """``total_steps`` scaled by ``budget_scale`` (a smoke profile shrinks budgets), never below
    :data:`MIN_TRAINING_STEPS`."""
    return max(MIN_TRAINING_STEPS, int(total_steps * budget_scale))


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


def budgets_at(fractions: Sequence[float], total_steps: int) -> tuple[int, ...]:
    """Budgets at ``fractions`` of ``total_steps`` (each in (0, 1], rounded, at least one step)."""
    check_int_range("total_steps", total_steps, 1, 10**10)
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__iter__") or not len(fractions):
        raise ValueError(f"fractions must be a non-empty sequence of numbers in (0, 1], got {fractions!r}")
    for f in fractions:
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
            raise ValueError(f"fractions must be numbers in (0, 1], got {f!r} in {fractions!r}")
    return check_budgets([max(1, round(f * total_steps)) for f in fractions], total_steps)


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


def _copy_file(final: Path, budget: int) -> Path:
    return final.with_name(f"{final.stem}-at{budget}.pt")


def train_with_checkpoints_cached(
    scenario: Scenario, config: PPOConfig, seed: int, at_steps: Sequence[int], *, cache_dir: str | None = None
) -> tuple[TrainResult, list[Checkpoint]]:
    """:func:`train_with_checkpoints`, reusing saved copies; the final policy is also :func:`train_cached`'s.

    The copies are saved next to the final policy (same key, one file per budget), so a
    later call with the same settings and budgets loads them, and :func:`train_cached`
    with the same settings loads the final policy instead of training again.
    """
    budgets = check_budgets(at_steps, config.total_steps)
    files = policy_files(scenario, seed, config, cache_dir)
    copies = [_copy_file(files[0], b) for b in budgets]
    if all(p.exists() for p in (*files, *copies)):
        result = train_cached(scenario, seed, config, cache_dir=cache_dir)
        return result, [
            Checkpoint(b, int(policy_meta(p)["steps"]), load_policy(p)) for b, p in zip(budgets, copies, strict=True)
        ]
    result, kept = train_with_checkpoints(scenario, config, seed, budgets)
    for c, path in zip(kept, copies, strict=True):
        save_policy(c.policy, path, {"scenario": scenario.name, "seed": seed, "budget": c.budget, "steps": c.steps})
    store_trained(result, scenario, seed, files)  # last: its presence says the copies are complete
    return result, kept
