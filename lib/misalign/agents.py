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
import torch.nn.functional as F
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


class FoldedForward:
    """``net``'s forward pass on only the inputs that vary, for the training loop.

    Why: the first layer is most of the MLP's arithmetic, and on the 9x9 coin levels about
    two thirds of its 324 inputs are the same in every observation (the border wall, cells
    nothing can occupy). ``constant`` gives each input's value where it never changes and
    NaN where it varies (:meth:`misalign.gridworld.GridWorld.constant_inputs`); those inputs'
    contribution is folded into the first bias. The parameters stay ``net``'s own and the
    math is unchanged: each column of the first layer gets the gradient the dense pass
    gives it (a constant input's value times the bias gradient; zero for a constant zero).
    Non-MLP bodies keep every input and the plain forward pass.
    """

    def __init__(self, net: ActorCritic, constant: np.ndarray | None = None) -> None:
        self.net = net
        n_inputs = int(np.prod(net.obs_shape))
        if constant is None or net.arch != "mlp":
            constant = np.full(n_inputs, np.nan, dtype=np.float32)
        if constant.shape != (n_inputs,):
            raise ValueError(f"constant must have one entry per input ({n_inputs}), got shape {constant.shape}")
        varies = np.isnan(constant)
        self.keep = np.flatnonzero(varies)  # the inputs it reads: GridWorld.observing(keep) observes just these
        self.folded = net.arch == "mlp"
        self._keep = torch.from_numpy(self.keep)
        self._fixed = torch.from_numpy(np.where(varies, 0.0, constant).astype(np.float32))
        self.refresh()

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits ``(n, n_actions)`` and values of selected inputs ``x``, with gradients (the update).

        The logits are a transposed view of an ``(n_actions, n)`` tensor: softmax over a
        few actions is about 10x faster in that layout (``torch.log_softmax(logits.T, 0)``).
        """
        if not self.folded:
            return self.net(x)
        net, first = self.net, self.net.layers[0]
        h = torch.tanh(F.linear(x, first.weight[:, self._keep], first.bias + first.weight @ self._fixed))
        for layer in net.layers[1:]:
            h = torch.tanh(layer(h))
        head = torch.cat([net.policy.weight, net.value.weight])
        out = torch.addmm(torch.cat([net.policy.bias, net.value.bias])[:, None], head, h.T)
        return out[: net.n_actions].T, out[net.n_actions]

    @torch.no_grad()
    def refresh(self) -> None:
        """Copy the current weights into the rollout's numpy layout; call before a rollout, after they changed."""
        if not self.folded:
            return
        net, first = self.net, self.net.layers[0]
        layers = [(first.weight[:, self._keep].T, first.bias + first.weight @ self._fixed)]
        layers += [(layer.weight.T, layer.bias) for layer in net.layers[1:]]
        self._layers = [(np.ascontiguousarray(w.numpy()), b.numpy().copy()) for w, b in layers]
        self._head = (
            torch.cat([net.policy.weight, net.value.weight]).numpy(),
            torch.cat([net.policy.bias, net.value.bias])[:, None].numpy(),
        )

    def rollout(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Action logits ``(n_actions, n)``, actions first, and values ``(n,)`` of selected inputs ``x``.

        No gradients, weights as of the last :meth:`refresh`. Why numpy: the rollout is many
        small batches between numpy environment steps, and there numpy's matrix products and
        elementwise calls cost about half of torch's (measured in the training loop, where
        interleaving with the environment makes torch calls much slower than alone).
        """
        if not self.folded:
            with torch.no_grad():
                logits, value = self.net(torch.from_numpy(x))
            return logits.T.numpy(), value.numpy()
        h = x
        for weight, bias in self._layers:
            h = h @ weight
            h += bias
            np.tanh(h, out=h)
        weight, bias = self._head
        out = weight @ h.T
        out += bias
        return out[: self.net.n_actions], out[self.net.n_actions]


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


def policy_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` dictionary a policy was saved with by :func:`save_policy` (no code runs on load)."""
    return dict(torch.load(path, weights_only=True)["meta"])
