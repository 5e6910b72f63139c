"""Does a representation cause behaviour? Steering hidden layers and measuring goal-ward moves.

:func:`steered_probs` adds a vector to a hidden layer (torch forward hooks) or projects
a direction out of it; :func:`goalward_share` measures how much action probability goes
toward one goal rather than a rival at *decision states*, where the two call for
different moves: the protocol of Turner et al.'s cheese vector.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from misalign.agents import ActorCritic
from misalign.probes import hidden_and_value
from misalign.states import States
from misalign.validation import check_choice, check_int_range

# ----------------------------------------------------------------------------- steering


def _consumers(net: ActorCritic, layer: str) -> list[torch.nn.Module]:
    """The modules that read hidden layer ``layer``: the next layer, or both heads for the last one."""
    names = [f"h{i + 1}" for i in range(len(net.layers))]
    check_choice("layer", layer, names)
    i = names.index(layer)
    return [net.layers[i + 1]] if i + 1 < len(names) else [net.policy, net.value]


@torch.no_grad()
def steered_probs(
    net: ActorCritic,
    obs: np.ndarray,
    layer: str,
    delta: np.ndarray | None = None,
    project_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Action probabilities and values with hidden layer ``layer`` edited on its way to the next module.

    ``delta`` (a vector, or one per state) is added to the activations; ``project_out`` (a
    unit vector) removes their component along it (a directional ablation). The edit goes
    in through forward pre-hooks on the modules that read the layer, so the network's own
    code is untouched and the hooks are removed afterwards.
    """
    d = None if delta is None else torch.as_tensor(np.asarray(delta), dtype=torch.float32)
    u = None if project_out is None else torch.as_tensor(np.asarray(project_out), dtype=torch.float32)

    def edit(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        h = args[0]
        if u is not None:
            h = h - (h @ u)[:, None] * u[None, :]
        if d is not None:
            h = h + d
        return (h,)

    handles = [m.register_forward_pre_hook(edit) for m in _consumers(net, layer)]
    try:
        logits, value = net(torch.as_tensor(obs, dtype=torch.float32))
    finally:
        for h in handles:
            h.remove()
    return torch.softmax(logits, -1).numpy(), value.numpy()


def random_direction(dim: int, norm: float, seed: int) -> np.ndarray:
    """A uniformly random direction of length ``norm``: the control for any steering vector."""
    check_int_range("dim", dim, 1, 10**7)
    v = np.random.default_rng(seed).normal(size=dim)
    return v / np.linalg.norm(v) * norm


def decision_mask(states: States, goal: str, rival: str) -> np.ndarray:
    """States where approaching ``goal`` and approaching ``rival`` call for different moves."""
    for name in (goal, rival):
        check_choice("target", name, sorted(states.toward))
    g, r = states.toward[goal], states.toward[rival]
    return g.any(axis=1) & r.any(axis=1) & ~(g & r).any(axis=1)


def goalward_share(probs: np.ndarray, states: States, goal: str, rival: str) -> float:
    """Mean probability of a move toward ``goal`` at the decision states between ``goal`` and ``rival``.

    Turner et al.'s measure: P(cheese-ward action at the decision square), here averaged
    over every decision state rather than one per maze.
    """
    mask = decision_mask(states, goal, rival)
    if not mask.any():
        return float("nan")
    return float((probs[mask] * states.toward[goal][mask]).sum(axis=1).mean())


def policy_probs(
    net: ActorCritic, layer: str | None = None, delta: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """A function from observations to action probabilities, optionally steered (for action-field figures)."""

    def probs(obs: np.ndarray) -> np.ndarray:
        if layer is None:
            return steered_probs(net, obs, "h1")[0]
        return steered_probs(net, obs, layer, delta)[0]

    return probs


def steering_vector(net: ActorCritic, obs: np.ndarray, paired_obs: np.ndarray, layer: str) -> np.ndarray:
    """Mean activation difference at ``layer`` between paired observations and the originals (one vector)."""
    if np.shape(obs) != np.shape(paired_obs):
        raise ValueError(f"obs and paired_obs must pair row by row (shapes {np.shape(obs)} and {np.shape(paired_obs)})")
    a, _ = hidden_and_value(net, obs)
    b, _ = hidden_and_value(net, paired_obs)
    check_choice("layer", layer, list(a))
    return (b[layer] - a[layer]).mean(axis=0)
