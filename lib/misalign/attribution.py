"""Which training data caused a misbehaviour: TracIn over the checkpoints of a PPO run.

TracIn (Pruthi et al. 2020) scores each training example by the sum, over saved
checkpoints, of the learning rate times the dot product of the example's gradient with
the gradient of the test quantity. :func:`tracin` is generic over any torch module;
:func:`level_gradients` gives the per-level policy-gradient directions of a PPO run and
:func:`misbehaviour_grad` the gradient of the recorded misbehaviour.

Why TracIn rather than influence functions: PPO's objective changes as the policy
collects new data, so there is no fixed training loss at an optimum whose Hessian an
influence function could invert; TracIn only needs the gradients along the actual
training path, which ``ppo.train(checkpoint_every=...)`` keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from misalign.agents import ActorCritic
from misalign.behaviours import exit_without_coin
from misalign.gridworld import GridWorld, level_bank
from misalign.levels import LevelBank
from misalign.rollouts import rollout
from misalign.scenarios import Scenario
from misalign.validation import check_int_range


def flat_grad(output: torch.Tensor, params: Sequence[torch.Tensor], retain_graph: bool = False) -> torch.Tensor:
    """Gradient of a scalar with respect to ``params``, flattened into one vector (zeros for unused ones)."""
    grads = torch.autograd.grad(output, params, allow_unused=True, retain_graph=retain_graph)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params, strict=True)]
    )


def tracin(
    model: torch.nn.Module,
    checkpoints: Sequence[dict[str, torch.Tensor]],
    lrs: Sequence[float],
    train_grads: Callable[[torch.nn.Module], torch.Tensor],
    test_grad: Callable[[torch.nn.Module], torch.Tensor],
) -> np.ndarray:
    """TracIn (Pruthi et al. 2020): score_i = sum over checkpoints t of lr_t <g_i(theta_t), g_test(theta_t)>.

    ``train_grads(model)`` returns one row per training item: the direction in which a
    gradient step on that item moves the weights (the *descent* direction, i.e. minus the
    loss gradient, or plus the gradient of an objective being maximised); ``test_grad``
    the gradient of the test quantity. A positive score says training on the item
    increased the test quantity.
    """
    if len(checkpoints) != len(lrs) or not checkpoints:
        raise ValueError(
            f"checkpoints and lrs must be non-empty and of equal length (got {len(checkpoints)} and {len(lrs)})"
        )
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    total = None
    try:
        for state, lr in zip(checkpoints, lrs, strict=True):
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


def level_gradients(
    net: ActorCritic,
    scenario: Scenario,
    bank: LevelBank,
    gamma: float = 0.95,
    episodes_per_level: int = 8,
    seed: int = 0,
) -> torch.Tensor:
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


def misbehaviour_steps(
    net: ActorCritic, scenario: Scenario, n_episodes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Observations and actions of the test episodes in which the final policy reached the exit
    without the coin (the misbehaviour TracIn attributes); empty when there is none."""
    table = rollout(net, scenario, "test", n_episodes, seed=seed)
    bad = table[exit_without_coin(table)]
    if bad.empty:  # nothing to attribute: no steps
        return torch.zeros((0, *net.obs_shape)).reshape(0, -1), torch.zeros(0, dtype=torch.long)
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
