"""Framing 1.5's measure: how much the training data must be corrected to prevent a misbehaviour.

The essay asks how much the training rewards would have had to change to prevent a
test misbehaviour: little (a few easily corrected datapoints) points to the reward,
i.e. outer misalignment; a lot (strong inductive biases that rewards struggle to
overcome) points to inner misalignment. The corrections here are of two kinds: paying a
share of training episodes by H instead of R (:class:`CorrectedRewardWorld`), and
editing training levels so that the look-alike goal comes apart from the intended one
(:func:`move_coins`). :func:`correction_budget` reads the smallest sufficient correction
off a sweep; :func:`indifference_share` is what a perfect reward-maximiser would need.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from misalign.gridworld import GridWorld, StepResult
from misalign.levels import LevelBank
from misalign.registry import Entity
from misalign.scenarios import Scenario
from misalign.stats import mean_ci
from misalign.validation import check_int_range, check_probability


def correction_budget(
    per_seed: pd.DataFrame, x: str, y: str, threshold: float, level: float = 0.95
) -> dict[str, float]:
    """Smallest correction ``x`` from which the misbehaviour ``y`` stays under ``threshold``.

    ``per_seed`` has one row per (x, seed). At each x the seed mean and its t-interval
    are computed; the budget is the smallest grid value from which the mean stays below
    the threshold at every larger x (a single lucky dip does not count). ``optimistic``
    uses the interval's lower bound instead of the mean, ``conservative`` its upper
    bound, so ``[optimistic, conservative]`` is the budget's uncertainty on the grid.
    ``inf`` means no grid value was enough.
    """
    for name in (x, y):
        if name not in per_seed.columns:
            raise ValueError(f"column {name!r} not in per_seed; accepted: {', '.join(map(str, per_seed.columns))}")
    rows = []
    for value, group in per_seed.groupby(x, sort=True):
        m, lo, hi = mean_ci(group[y].to_numpy(), level)
        rows.append((float(value), m, lo, hi))
    grid = np.array([r[0] for r in rows])

    def first_stays_below(values: np.ndarray) -> float:
        below = values < threshold
        for i in range(len(below)):
            if below[i:].all():
                return float(grid[i])
        return float("inf")

    stats = np.array([r[1:] for r in rows])
    return {
        "point": first_stays_below(stats[:, 0]),
        "optimistic": first_stays_below(stats[:, 1]),
        "conservative": first_stays_below(stats[:, 2]),
        "threshold": float(threshold),
    }


def indifference_share(r_bad: float, h_bad: float, r_good: float, h_good: float) -> float:
    """The share k of episodes paid by H instead of R at which a reward-maximiser that cannot tell
    corrected episodes apart stops preferring the bad behaviour: solve
    (1-k) r_bad + k h_bad = (1-k) r_good + k h_good for k (clipped to [0, 1])."""
    gap_r, gap_h = r_bad - r_good, h_bad - h_good
    if gap_r <= 0:
        return 0.0
    if gap_r - gap_h <= 0:
        return 1.0
    return float(min(1.0, max(0.0, gap_r / (gap_r - gap_h))))


class CorrectedRewardWorld(GridWorld):
    """A training world in which a seeded random share ``k`` of episodes is paid H instead of R.

    The agent is not told which episodes are corrected (as with labels fixed by a
    reviewer after the fact). The draw uses its own generator, so with ``k = 0`` the
    world behaves exactly like :class:`~misalign.gridworld.GridWorld` with the same seed.
    Episode totals in ``info['episode']`` stay the uncorrected observed reward.
    """

    def __init__(
        self,
        scenario: Scenario | str,
        split: str = "train",
        num_envs: int = 256,
        seed: int = 0,
        *,
        k: float = 0.0,
        correction_seed: int = 0,
        **kwargs,
    ) -> None:
        check_probability("k", k)
        self.k = float(k)
        self._correction_rng = np.random.default_rng([correction_seed, seed, 7])
        self.corrected = np.zeros(num_envs, dtype=bool)
        super().__init__(scenario, split, num_envs, seed, **kwargs)

    def _restart(self, rows: np.ndarray, levels: np.ndarray | None = None) -> None:
        super()._restart(rows, levels)
        if hasattr(self, "_correction_rng"):
            self.corrected[rows] = self._correction_rng.random(len(rows)) < self.k

    def step(self, actions: np.ndarray) -> StepResult:
        flags = self.corrected.copy()  # the episodes this step's rewards belong to (step may restart some)
        res = super().step(actions)
        res.reward = np.where(flags, res.info["H"], res.reward).astype(np.float32)
        return res


def move_coins(bank: LevelBank, levels: Sequence[int], seed: int = 0) -> LevelBank:
    """A copy of ``bank`` in which the coin of each listed level moves to a random free cell away
    from the exit's approach (the diversity correction, applied to chosen levels)."""
    levels = [int(i) for i in levels]
    for i in levels:
        check_int_range("level", i, 0, len(bank) - 1)
    rng = np.random.default_rng(seed)
    coin, moved = bank[Entity.COIN].copy(), bank.coin_moved.copy()
    for i in levels:
        if coin[i] < 0:
            raise ValueError(f"level {i} has no coin to move; accepted: levels of a coin scenario")
        blocked = {int(bank.agent[i])} | {c for cells in bank.entity_cells(i).values() for c in cells}
        pool = [int(c) for c in np.flatnonzero(~bank.walls[i]) if int(c) not in blocked]
        coin[i] = pool[rng.integers(len(pool))]
        moved[i] = True
    return bank.with_cells(Entity.COIN, coin, coin_moved=moved)
