"""The actor-critic: a policy head, a value head and named hidden activations.

Framing 2 needs a policy's value estimates and the representations behind them, so
the network exposes both: :meth:`ActorCritic.forward` returns action logits and the
value, :meth:`ActorCritic.activations` the hidden layers by name. Three bodies serve the
inductive-bias ablations: an MLP on the flattened grid (the default: fast on a CPU), a
small CNN, and the CNN with coordinate channels (CoordConv).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from misalign.validation import check_choice, check_int_range

ARCHS = ("mlp", "cnn", "coordcnn")


def _init(layer: nn.Module, gain: float = float(np.sqrt(2))) -> nn.Module:
    """Orthogonal weights, zero bias: the usual PPO initialisation."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class ActorCritic(nn.Module):
    """A shared body with a policy head (4 action logits) and a value head."""

    def __init__(
        self, obs_shape: tuple[int, int, int], n_actions: int = 4, arch: str = "mlp", hidden: int = 64
    ) -> None:
        super().__init__()
        check_choice("arch", arch, ARCHS)
        check_int_range("hidden", hidden, 1, 4096)
        self.obs_shape = tuple(int(x) for x in obs_shape)
        self.arch, self.hidden, self.n_actions = arch, hidden, n_actions
        c, h, w = self.obs_shape
        if arch == "mlp":
            self.layers = nn.ModuleList([_init(nn.Linear(c * h * w, hidden)), _init(nn.Linear(hidden, hidden))])
        else:
            extra = 2 if arch == "coordcnn" else 0
            self.convs = nn.ModuleList(
                [_init(nn.Conv2d(c + extra, 16, 3, padding=1)), _init(nn.Conv2d(16, 32, 3, padding=1))]
            )
            self.layers = nn.ModuleList([_init(nn.Linear(32 * h * w, hidden))])
            if arch == "coordcnn":
                ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
                self.register_buffer("coords", torch.stack([ys, xs])[None])
        self.policy = _init(nn.Linear(hidden, n_actions), 0.01)
        self.value = _init(nn.Linear(hidden, 1), 1.0)

    def config(self) -> dict[str, Any]:
        """What is needed to rebuild the network (saved next to its weights)."""
        return {
            "obs_shape": list(self.obs_shape),
            "n_actions": self.n_actions,
            "arch": self.arch,
            "hidden": self.hidden,
        }

    def activations(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hidden activations by layer name (``h1``, ``h2``, ...), the last one feeding both heads."""
        out: dict[str, torch.Tensor] = {}
        x = obs
        if self.arch != "mlp":
            x = x.reshape(-1, *self.obs_shape)
            if self.arch == "coordcnn":
                x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
            for i, conv in enumerate(self.convs):
                x = torch.relu(conv(x))
                out[f"conv{i + 1}"] = x
            x = x.flatten(1)
        else:
            x = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers):
            x = torch.tanh(layer(x))
            out[f"h{i + 1}"] = x
        return out

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits and value estimates."""
        z = list(self.activations(obs).values())[-1]
        return self.policy(z), self.value(z).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: np.ndarray, generator: torch.Generator | None = None, greedy: bool = False) -> np.ndarray:
        """Actions for a batch of numpy observations (sampled, or the most likely one)."""
        logits, _ = self(torch.as_tensor(obs, dtype=torch.float32))
        if greedy:
            return logits.argmax(-1).numpy()
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1).numpy()


class PolicyFn:
    """Wrap a network as a plain function from observations to actions, with its own seeded sampler."""

    def __init__(self, net: ActorCritic, seed: int = 0, greedy: bool = False) -> None:
        self.net, self.greedy = net, greedy
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.net.act(obs, self.generator, self.greedy)


def save_policy(net: ActorCritic, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> None:
    """Save weights and rebuild config atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"config": net.config(), "state_dict": net.state_dict(), "meta": meta or {}}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_policy(path: str | os.PathLike) -> ActorCritic:
    """Load a policy saved by :func:`save_policy` (``weights_only=True``: no code runs on load)."""
    blob = torch.load(path, weights_only=True)
    cfg = blob["config"]
    net = ActorCritic(tuple(cfg["obs_shape"]), cfg["n_actions"], cfg["arch"], cfg["hidden"])
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return net
