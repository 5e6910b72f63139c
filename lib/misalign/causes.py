"""Framing 1.5: what caused a misbehaviour, measured as a *correction budget*.

The essay asks how much the training rewards would have had to change to prevent a
test misbehaviour: little (a few easily corrected datapoints) points to the reward,
i.e. outer misalignment; a lot (strong inductive biases that rewards struggle to
overcome) points to inner misalignment. This module turns that into measurements:

* **budgets**: sweep the share of training data that is corrected and find the smallest
  share that brings the misbehaviour under a threshold (:func:`correction_budget`),
  with the sweep cells :func:`alpha_cell` (coin moved away from the exit in a share
  alpha of training levels) and :func:`reward_correction_cell` (a share k of training
  episodes paid by H instead of R, through :class:`CorrectedRewardWorld`);
* **attribution**: TracIn (:func:`tracin`, generic over any torch module) with per-level
  policy-gradient directions of a PPO run (:func:`level_gradients`), checked against
  ground truth by retraining with the top-scored levels corrected versus random ones
  (:func:`attribution_cell`, using :func:`move_coins`);
* **inductive biases**: the same levels and rewards under other architectures and
  observations (:func:`ablation_cell`).

Why TracIn rather than influence functions: PPO's objective changes as the policy
collects new data, so there is no fixed training loss at an optimum whose Hessian an
influence function could invert; TracIn only needs the gradients along the actual
training path, which ``ppo.train(checkpoint_every=...)`` keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from misalign.agents import ActorCritic
from misalign.gridworld import GridWorld, StepResult, level_bank
from misalign.levels import LevelBank
from misalign.outcomes import OUTCOMES, classify, outcome_shares
from misalign.rollouts import COIN_OUTCOMES, coin_outcome_shares, rollout
from misalign.scenarios import Scenario, get_scenario
from misalign.stats import mean_ci
from misalign.validation import check_choice, check_int_range, check_probability

ABLATIONS = {  # variant -> (PPOConfig arch, scenario overrides)
    "mlp (full grid)": ("mlp", {}),
    "mlp (egocentric 7x7)": ("mlp", {"observation": "ego"}),
    "cnn (full grid)": ("cnn", {}),
    "coordcnn (full grid)": ("coordcnn", {}),
}


# ----------------------------------------------------------------------------- budgets

def correction_budget(per_seed: pd.DataFrame, x: str, y: str, threshold: float, level: float = 0.95) -> dict[str, float]:
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
    return {"point": first_stays_below(stats[:, 0]), "optimistic": first_stays_below(stats[:, 1]),
            "conservative": first_stays_below(stats[:, 2]), "threshold": float(threshold)}


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


# ----------------------------------------------------------------------------- evaluation

def evaluate(policy: ActorCritic, scenario: Scenario, n_episodes: int, seed: int) -> dict[str, float]:
    """Test-split outcome shares (Framing 1's five and, for coin scenarios, the three coin outcomes)
    plus the mean R and H: every share is reported, not only the misbehaviour's."""
    table = rollout(policy, scenario, "test", n_episodes, seed=seed)
    out: dict[str, float] = outcome_shares(classify(table, scenario, "test"))
    if "coin" in scenario.entities:
        out.update({f"coin: {k}": v for k, v in coin_outcome_shares(table).items()})
    out.update({"R": float(table["R"].mean()), "H": float(table["H"].mean())})
    return out


def _train_success(history: pd.DataFrame) -> float:
    return float(history["mean_H"].iloc[-1]) if len(history) else float("nan")


# ----------------------------------------------------------------------------- alpha sweep

def alpha_cell(alpha: float, seed: int, total_steps: int = 1_000_000, n_episodes: int = 256) -> dict[str, float]:
    """One diversity-sweep cell: train on coin-diverse with share ``alpha`` (cached; alpha = 0 is
    chapter 1's coin-at-exit run at the same budget), then classify test episodes."""
    from misalign.ppo import PPOConfig, train_cached

    check_probability("alpha", alpha)
    cfg = PPOConfig(total_steps=total_steps)
    if alpha == 0.0:
        sc, result = get_scenario("coin-at-exit"), train_cached("coin-at-exit", seed, cfg)
    else:
        sc, result = get_scenario("coin-diverse", alpha=alpha), train_cached("coin-diverse", seed, cfg, alpha=alpha)
    return {**evaluate(result.policy, sc, n_episodes, seed), "train_H": _train_success(result.history),
            "seconds": result.seconds}


# ----------------------------------------------------------------------------- reward corrections

class CorrectedRewardWorld(GridWorld):
    """A training world in which a seeded random share ``k`` of episodes is paid H instead of R.

    The agent is not told which episodes are corrected (as with labels fixed by a
    reviewer after the fact). The draw uses its own generator, so with ``k = 0`` the
    world behaves exactly like :class:`~misalign.gridworld.GridWorld` with the same seed.
    Episode totals in ``info['episode']`` stay the uncorrected observed reward.
    """

    def __init__(self, scenario: Scenario | str, split: str = "train", num_envs: int = 256, seed: int = 0, *,
                 k: float = 0.0, correction_seed: int = 0, **kwargs) -> None:
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


def reward_correction_cell(k: float, seed: int, scenario: str = "checkpoint", total_steps: int = 1_000_000,
                           n_episodes: int = 256) -> dict[str, float]:
    """One k-sweep cell: train with a share ``k`` of episodes paid by H, classify test episodes."""
    from misalign.ppo import PPOConfig, train

    check_probability("k", k)
    sc = get_scenario(scenario)
    cfg = PPOConfig(total_steps=total_steps)
    env = CorrectedRewardWorld(sc, "train", cfg.num_envs, seed=seed, k=k, level_seed=cfg.level_seed)
    result = train(sc, cfg, seed, env=env)
    return {**evaluate(result.policy, sc, n_episodes, seed), "train_H": _train_success(result.history),
            "seconds": result.seconds}


# ----------------------------------------------------------------------------- level edits

def move_coins(bank: LevelBank, levels: Sequence[int], seed: int = 0) -> LevelBank:
    """A copy of ``bank`` in which the coin of each listed level moves to a random free cell away
    from the exit's approach (the diversity correction, applied to chosen levels)."""
    levels = [int(i) for i in levels]
    for i in levels:
        check_int_range("level", i, 0, len(bank) - 1)
    rng = np.random.default_rng(seed)
    coin, moved = bank.coin.copy(), bank.coin_moved.copy()
    for i in levels:
        if bank.coin[i] < 0:
            raise ValueError(f"level {i} has no coin to move; accepted: levels of a coin scenario")
        blocked = {int(bank.agent[i]), int(bank.exit[i]), int(bank.coin[i]), int(bank.checkpoint[i]),
                   int(bank.sensor[i]), *map(int, bank.keys[i]), *map(int, bank.chests[i])}
        pool = [int(c) for c in np.flatnonzero(~bank.walls[i]) if int(c) not in blocked]
        coin[i] = pool[rng.integers(len(pool))]
        moved[i] = True
    return replace(bank, coin=coin, coin_moved=moved)


# ----------------------------------------------------------------------------- TracIn

def flat_grad(output: torch.Tensor, params: Sequence[torch.Tensor], retain_graph: bool = False) -> torch.Tensor:
    """Gradient of a scalar with respect to ``params``, flattened into one vector (zeros for unused ones)."""
    grads = torch.autograd.grad(output, params, allow_unused=True, retain_graph=retain_graph)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def tracin(model: torch.nn.Module, checkpoints: Sequence[dict[str, torch.Tensor]], lrs: Sequence[float],
           train_grads: Callable[[torch.nn.Module], torch.Tensor],
           test_grad: Callable[[torch.nn.Module], torch.Tensor]) -> np.ndarray:
    """TracIn (Pruthi et al. 2020): score_i = sum over checkpoints t of lr_t <g_i(theta_t), g_test(theta_t)>.

    ``train_grads(model)`` returns one row per training item: the direction in which a
    gradient step on that item moves the weights (the *descent* direction, i.e. minus the
    loss gradient, or plus the gradient of an objective being maximised); ``test_grad``
    the gradient of the test quantity. A positive score says training on the item
    increased the test quantity.
    """
    if len(checkpoints) != len(lrs) or not checkpoints:
        raise ValueError(f"checkpoints and lrs must be non-empty and of equal length (got {len(checkpoints)} and {len(lrs)})")
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    total = None
    try:
        for state, lr in zip(checkpoints, lrs):
            model.load_state_dict(state)
            scores = float(lr) * (train_grads(model) @ test_grad(model))
            total = scores if total is None else total + scores
    finally:
        model.load_state_dict(saved)
    return total.detach().numpy()


def _collect(net: ActorCritic, world: GridWorld, levels: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
    """Play one episode per entry of ``levels`` (sampled actions), keeping observations, actions,
    rewards and the level of each step."""
    gen = torch.Generator().manual_seed(seed)
    obs = world.reset(levels=levels)
    steps: dict[str, list] = {"obs": [], "act": [], "rew": [], "alive": []}
    alive = np.ones(world.num_envs, dtype=bool)
    while alive.any():
        with torch.no_grad():
            a = net.act(obs, gen)
        res = world.step(a)
        for key, val in (("obs", obs), ("act", a), ("rew", res.reward), ("alive", alive.copy())):
            steps[key].append(val)
        alive &= ~(res.terminated | res.truncated)
        obs = res.obs
    return {k: torch.as_tensor(np.stack(v)) for k, v in steps.items()}


def level_gradients(net: ActorCritic, scenario: Scenario, bank: LevelBank, gamma: float = 0.95,
                    episodes_per_level: int = 8, seed: int = 0) -> torch.Tensor:
    """Per training level, the policy-gradient direction its episodes push the weights in.

    The current policy plays ``episodes_per_level`` episodes on each level; with
    advantages A = (discounted return to go) - V(s), the level's direction is the gradient
    of mean(A * log pi(a|s)) over its steps: the first-order update a PPO step on that
    level's data makes (the clipped ratio equals one at the start of an update).
    """
    check_int_range("episodes_per_level", episodes_per_level, 1, 10_000)
    n = len(bank)
    levels = np.repeat(np.arange(n), episodes_per_level)
    world = GridWorld(scenario, "train", len(levels), seed=seed, bank=bank, autoreset=False)
    data = _collect(net, world, levels, seed)
    T = data["rew"].shape[0]
    ret = torch.zeros_like(data["rew"])
    running = torch.zeros(len(levels))
    for t in reversed(range(T)):
        running = data["rew"][t] + gamma * running * data["alive"][t]
        ret[t] = running
    params = [p for p in net.parameters()]
    alive = data["alive"].float()
    obs = data["obs"].reshape(T * len(levels), -1)
    logits, value = net(obs)
    logp = torch.log_softmax(logits, -1).gather(1, data["act"].reshape(-1, 1).long()).squeeze(1).reshape(T, -1)
    adv = (ret - value.reshape(T, -1)).detach()
    per_env = (adv * logp * alive).sum(0) / alive.sum(0).clamp(min=1)
    per_level = per_env.reshape(n, episodes_per_level).mean(1)
    rows = [flat_grad(per_level[i], params, retain_graph=True) for i in range(n)]
    return torch.stack(rows)


def misbehaviour_grad(net: ActorCritic, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Gradient of the mean log-probability of given (observation, action) pairs: the test
    quantity whose growth means *more* of the recorded misbehaviour."""
    logits, _ = net(observations)
    logp = torch.log_softmax(logits, -1).gather(1, actions.reshape(-1, 1).long()).mean()
    return flat_grad(logp, list(net.parameters()))


def misbehaviour_steps(net: ActorCritic, scenario: Scenario, n_episodes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Observations and actions of the test episodes in which the final policy reached the exit
    without the coin (the misbehaviour TracIn attributes)."""
    table = rollout(net, scenario, "test", n_episodes, seed=seed)
    bad = table[(table["exit"] > 0) & (table["coin"] == 0)]
    if bad.empty:
        raise ValueError("no misbehaving test episodes to attribute; accepted: a policy that misgeneralizes")
    bank = level_bank(scenario, "test", None)
    world = GridWorld(scenario, "test", len(bad), seed=seed, bank=bank, autoreset=False)
    obs = world.reset(levels=bad["level"].to_numpy())
    all_obs, all_act = [], []
    actions = list(bad["actions"])
    for t in range(max(len(a) for a in actions)):
        live = np.array([t < len(a) for a in actions])
        act = np.array([a[t] if t < len(a) else 0 for a in actions])
        all_obs.append(obs[live])
        all_act.append(act[live])
        obs = world.step(act).obs
    return torch.as_tensor(np.concatenate(all_obs)), torch.as_tensor(np.concatenate(all_act))


def attribution_cell(seed: int, n_levels: int = 32, m_values: tuple[int, ...] = (2, 6), total_steps: int = 500_000,
                     checkpoint_every: int = 6, n_episodes: int = 256) -> pd.DataFrame:
    """Attribute a coin-at-exit policy's test misbehaviour to its ``n_levels`` training levels with
    TracIn, then retrain (same seed) with the coins of the ``m`` top-scored levels moved away
    from the exit, and of ``m`` random levels, for each ``m``: the retraining is the ground truth.

    Returns one row per (method, m): ``none`` (the original), ``tracin`` and ``random``,
    with every outcome share; the ``none`` row also carries the per-level ``scores``.
    """
    from misalign.ppo import PPOConfig, train

    check_int_range("n_levels", n_levels, 2, 100_000)
    for m in m_values:
        check_int_range("m", m, 1, n_levels)
    sc = get_scenario("coin-at-exit")
    cfg = PPOConfig(total_steps=total_steps, n_levels=n_levels)
    base = train(sc, cfg, seed, checkpoint_every=checkpoint_every)
    bank = level_bank(sc, "train", n_levels, cfg.level_seed)
    n_updates = max(1, cfg.total_steps // (cfg.num_envs * cfg.num_steps))
    lrs = [cfg.lr * (1.0 - (i + 1) * checkpoint_every / n_updates) * checkpoint_every
           for i in range(len(base.checkpoints))]
    net = ActorCritic(base.policy.obs_shape, 4, cfg.arch, cfg.hidden)
    try:
        obs, act = misbehaviour_steps(base.policy, sc, n_episodes, seed)
        scores = tracin(net, base.checkpoints, lrs,
                        lambda model: level_gradients(model, sc, bank, cfg.gamma, seed=seed),
                        lambda model: misbehaviour_grad(model, obs, act))
    except ValueError:  # nothing to attribute (no misbehaving episode, or no checkpoint): every level scores 0
        scores = np.zeros(n_levels)
    rows = [{"method": "none", "m": 0, **evaluate(base.policy, sc, n_episodes, seed), "scores": scores.tolist(),
             "corrected": []}]
    rng = np.random.default_rng([seed, 99])
    order = np.argsort(-scores, kind="stable")
    for m in m_values:
        for method, chosen in (("tracin", order[:m]), ("random", rng.choice(n_levels, m, replace=False))):
            edited = move_coins(bank, chosen, seed)
            world = GridWorld(sc, "train", cfg.num_envs, seed=seed, bank=edited)
            result = train(sc, cfg, seed, env=world)
            rows.append({"method": method, "m": int(m), **evaluate(result.policy, sc, n_episodes, seed),
                         "scores": None, "corrected": [int(c) for c in chosen]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- inductive biases

def ablation_cell(variant: str, seed: int, total_steps: int = 100_000, alpha: float = 0.0,
                  n_episodes: int = 256) -> dict[str, float]:
    """Same levels and rewards (coin-at-exit, or coin-diverse with ``alpha``), another network
    or observation; returns every test outcome share."""
    from misalign.ppo import PPOConfig, train_cached

    check_choice("variant", variant, tuple(ABLATIONS))
    arch, overrides = ABLATIONS[variant]
    cfg = PPOConfig(total_steps=total_steps, arch=arch)
    if alpha == 0.0:
        sc, result = get_scenario("coin-at-exit", **overrides), train_cached("coin-at-exit", seed, cfg, **overrides)
    else:
        sc = get_scenario("coin-diverse", alpha=alpha, **overrides)
        result = train_cached("coin-diverse", seed, cfg, alpha=alpha, **overrides)
    return {**evaluate(result.policy, sc, n_episodes, seed), "train_H": _train_success(result.history),
            "seconds": result.seconds}


def shares_summary(per_seed: pd.DataFrame, by: str, columns: Sequence[str] = OUTCOMES) -> pd.DataFrame:
    """Long table: per group and outcome column, the seed mean with its 95% t-interval."""
    rows = []
    for key, group in per_seed.groupby(by, sort=True):
        for name in columns:
            m, lo, hi = mean_ci(group[name].to_numpy(), bounds=(0.0, 1.0))
            rows.append({by: key, "outcome": name, "share": m, "low": lo, "high": hi, "seeds": len(group)})
    return pd.DataFrame(rows)


__all__ = ["ABLATIONS", "COIN_OUTCOMES", "CorrectedRewardWorld", "ablation_cell", "alpha_cell", "attribution_cell",
           "correction_budget", "evaluate", "flat_grad", "indifference_share", "level_gradients", "misbehaviour_grad",
           "misbehaviour_steps", "move_coins", "reward_correction_cell", "shares_summary", "tracin"]
