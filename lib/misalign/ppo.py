"""Proximal policy optimisation on the batched gridworld, in CleanRL's single-module style.

The whole loop is here: collect ``num_steps`` steps from ``num_envs`` episodes, compute
advantages with GAE, then a few epochs of clipped policy and value updates on large
minibatches. On a CPU the speed comes from the batched environment and the large
minibatches (on one core a 2x64 MLP updates about 250k samples/s at minibatch 4096 but
about 50k at 64), and from shortcuts that keep the maths (issue 12, about half the cost
per sample): the network reads only the inputs that vary, the constant ones (border
walls, cells nothing can occupy) folded into its first bias (:class:`FoldedForward`), and
the environment builds only those inputs (:meth:`GridWorld.observing`); the rollout runs
in numpy, between numpy environment steps, and samples by inverting the CDF; Adam is a
few lines instead of ``torch.optim`` (whose first use imports ``torch._dynamo``).
``benchmarks/train_profile.py`` shows where the time goes and
``benchmarks/learning_curve_check.py`` that steps to 95% success did not change.

Training can stop early once the mean training return over the last ``stop_window``
finished episodes reaches ``stop_at_return``; experiments that want a fixed budget
leave it ``None``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from torch import nn
from tqdm.auto import tqdm

from misalign.agents import ActorCritic, FoldedForward, load_policy, save_policy
from misalign.cache import atomic_dump, cell_key, default_cache_dir, note_policy
from misalign.gridworld import GridWorld
from misalign.scenarios import Scenario, as_scenario
from misalign.validation import check_int_range


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters. Defaults train a 2x64 MLP on a 9x9 scenario in well under a minute on one core.

    One epoch over 256 x 32 samples per update at lr 3e-3 was the best of a small search
    on coin-diverse-v1 (alpha = 0.25): the update dominates the cost on a CPU, so spending
    fewer gradient passes per sample and more samples learned more per second.
    """

    total_steps: int = 4_000_000
    num_envs: int = 256
    num_steps: int = 32
    lr: float = 3e-3
    anneal_lr: bool = True
    gamma: float = 0.95
    gae_lambda: float = 0.95
    epochs: int = 1
    minibatch_size: int = 4096
    clip: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    arch: str = "mlp"
    hidden: int = 64
    stop_at_return: float | None = None
    stop_window: int = 2000
    level_seed: int = 0
    n_levels: int | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        check_int_range("total_steps", self.total_steps, 1, 10**10)
        check_int_range("num_envs", self.num_envs, 1, 1_000_000)
        check_int_range("num_steps", self.num_steps, 1, 100_000)
        check_int_range("epochs", self.epochs, 1, 1000)
        check_int_range("minibatch_size", self.minibatch_size, 1, 10**8)
        check_int_range("threads", self.threads, 1, 256)


@dataclass
class TrainResult:
    """The trained network, its learning curve and what the run cost."""

    policy: ActorCritic
    history: pd.DataFrame
    steps: int
    seconds: float
    checkpoints: list[dict[str, torch.Tensor]] = field(default_factory=list)


@contextlib.contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads and ``n`` numpy BLAS threads, then restore both.

    Why: two threads on a busy 2-core box can be 10x slower; the rollout's matrix products
    run in numpy, whose BLAS would otherwise use every core (measured 16x slower there).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


def train(
    scenario: Scenario | str,
    config: PPOConfig = PPOConfig(),
    seed: int = 0,
    *,
    progress: bool = False,
    checkpoint_every: int | None = None,
    init: ActorCritic | None = None,
    env: GridWorld | None = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> TrainResult:
    """Train a fresh actor-critic (or continue ``init``) on the scenario's training split.

    Deterministic given ``seed``: it seeds torch and the environment. ``checkpoint_every``
    keeps a copy of the weights every that many updates (for training-data attribution).
    ``env`` replaces the default training world (``config.num_envs`` episodes of the
    scenario's training split): chapter 2 passes worlds with edited level banks or
    corrected rewards, so experiments can change the training data without a new loop.
    ``callback``, if given, is called after every update with ``update``, ``steps``, the
    network ``net`` and ``episodes`` (the records of the episodes that finished during that
    update's rollout, one array per field); returning True stops training (online
    deployment measures behaviour update by update this way).
    """
    scenario = as_scenario(scenario)
    check_int_range("seed", seed, 0, 2**63 - 1)
    with cpu_threads(config.threads):
        result = _train(scenario, config, seed, progress, checkpoint_every, init, env, callback)
    if init is None:  # a fresh policy (continuing one, as deployments do, is not counted)
        note_policy("trained", f"{scenario.name}-seed{seed}", result.seconds)
    return result


class Adam:
    """Adam with ``torch.optim.Adam``'s update rule (no weight decay, no AMSGrad), for the training loop.

    Why not ``torch.optim.Adam``: creating the first torch optimizer in a process imports
    ``torch._dynamo``, 1.2-1.5 s on one core, a fifth of a typical 2M-step run here (its
    default step also costs about 1.7x this one's; the fused kernel is faster but needs the
    same import). The rule is torch's single-tensor Adam, operation for operation
    (``tests/test_core_engine.py`` checks the two agree).
    """

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter from its ``.grad``."""
        self.t += 1
        step_size = self.lr / (1 - self.beta1**self.t)
        bias_correction2_sqrt = math.sqrt(1 - self.beta2**self.t)
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:  # as torch does: a parameter without a gradient is left alone
                continue
            m.lerp_(p.grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            p.addcdiv_(m, (v.sqrt() / bias_correction2_sqrt).add_(self.eps), value=-step_size)


def sample_actions(logits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Actions drawn from the softmax of ``(n_actions, n)`` logits, and their log-probabilities.

    Inverting the cumulative distribution with one uniform draw per column: the same
    distribution as ``torch.multinomial`` at a fraction of the cost for a few actions.
    """
    z = logits - logits.max(0)
    cdf = np.cumsum(np.exp(z), 0)
    u = rng.random(z.shape[1], dtype=np.float32) * cdf[-1]
    action = (u > cdf[:-1]).sum(0)
    return action, z[action, np.arange(z.shape[1])] - np.log(cdf[-1])


def log_softmax_actions(logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of ``(n, n_actions)`` logits, returned as ``(n_actions, n)``.

    Why transposed: torch's softmax over a short last dimension is slow on a CPU (for four
    actions about 10x slower than over the first dimension of the transposed tensor).
    """
    return torch.log_softmax(logits.T, 0)


def gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Generalised advantage estimates for ``(T, N)`` rewards and dones and ``(T + 1, N)`` values.

    ``values[T]`` is the bootstrap value of the observation after the last step; ``dones[t]``
    marks an episode that ended at step ``t`` (the next value is then not counted). Numpy,
    because the recursion is many tiny operations and numpy's per-call cost is lower.
    """
    nonterminal = 1.0 - dones
    adv = np.empty_like(rewards)
    last = np.zeros_like(values[0])
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * values[t + 1] * nonterminal[t] - values[t]
        last = delta + gamma * lam * nonterminal[t] * last
        adv[t] = last
    return adv


def _train(
    scenario: Scenario,
    cfg: PPOConfig,
    seed: int,
    progress: bool,
    checkpoint_every: int | None,
    init: ActorCritic | None,
    env: GridWorld | None = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> TrainResult:
    torch.manual_seed(seed)
    if env is None:
        env = GridWorld(scenario, "train", cfg.num_envs, seed=seed, level_seed=cfg.level_seed, n_levels=cfg.n_levels)
    elif env.num_envs != cfg.num_envs:
        raise ValueError(f"env.num_envs must equal config.num_envs ({cfg.num_envs}), got {env.num_envs}")
    net = init if init is not None else ActorCritic(env.obs_shape, 4, cfg.arch, cfg.hidden)
    opt = Adam(net.parameters(), lr=cfg.lr, eps=1e-5)
    # the network reads only the inputs that vary; the constant ones are folded into its first bias
    fwd = FoldedForward(net, env.constant_inputs())
    T, N, D = cfg.num_steps, cfg.num_envs, len(fwd.keep)
    batch = T * N
    n_updates = max(1, cfg.total_steps // batch)
    # the rollout runs in numpy; the update reads the same memory as tensors
    obs_buf = np.zeros((T, N, D), dtype=np.float32)
    act_buf = np.zeros((T, N), dtype=np.int64)
    logp_buf = np.zeros((T, N), dtype=np.float32)
    val_buf = np.zeros((T + 1, N), dtype=np.float32)  # row T: the bootstrap value after the last step
    rew_buf = np.zeros((T, N), dtype=np.float32)
    done_buf = np.zeros((T, N), dtype=np.float32)
    rng = np.random.default_rng([seed, 1])  # action sampling: a stream apart from the env's default_rng(seed)
    # observations hold just the inputs the network reads (all of them for CNNs and egocentric views)
    with env.observing(None if len(fwd.keep) == env.obs_dim else fwd.keep):
        obs = env.reset()
        recent: dict[str, deque] = {k: deque(maxlen=cfg.stop_window) for k in ("reward", "R", "H", "length")}
        rows, checkpoints = [], []
        start = time.perf_counter()
        steps = 0
        bar = tqdm(total=n_updates * batch, disable=not progress, unit="step", desc=f"PPO {scenario.name} seed {seed}")
        for update in range(n_updates):
            finished: list[dict[str, np.ndarray]] = []
            if cfg.anneal_lr:
                opt.lr = cfg.lr * (1.0 - update / n_updates)
            fwd.refresh()
            for t in range(T):
                obs_buf[t] = obs
                logits, val_buf[t] = fwd.rollout(obs_buf[t])
                act_buf[t], logp_buf[t] = sample_actions(logits, rng)
                res = env.step(act_buf[t])
                rew_buf[t] = res.reward
                np.logical_or(res.terminated, res.truncated, out=done_buf[t], casting="unsafe")
                obs = res.obs
                if "episode" in res.info:
                    ep, mask = res.info["episode"], res.info["_episode"]
                    for k in recent:
                        recent[k].extend(ep[k][mask].tolist())
                    if callback is not None:
                        finished.append({k: v[mask] for k, v in ep.items()})
            val_buf[T] = fwd.rollout(obs)[1]
            adv = gae(rew_buf, val_buf, done_buf, cfg.gamma, cfg.gae_lambda)
            ret = adv + val_buf[:T]
            b_obs = torch.from_numpy(obs_buf.reshape(batch, D))
            b_act, b_logp = torch.from_numpy(act_buf.reshape(-1)), torch.from_numpy(logp_buf.reshape(-1))
            b_adv, b_ret = torch.from_numpy(adv.reshape(-1)), torch.from_numpy(ret.reshape(-1))
            mb = min(cfg.minibatch_size, batch)
            for _ in range(cfg.epochs):
                perm = torch.randperm(batch)
                for i in range(0, batch, mb):
                    idx = perm[i : i + mb]
                    logits, value = fwd(b_obs.index_select(0, idx))
                    logp_all = log_softmax_actions(logits)
                    logp = logp_all.gather(0, b_act[None, idx]).squeeze(0)
                    ratio = torch.exp(logp - b_logp[idx])
                    a = b_adv[idx]
                    a = (a - a.mean()) / (a.std() + 1e-8)
                    pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
                    v_loss = 0.5 * ((value - b_ret[idx]) ** 2).mean()
                    entropy = -(logp_all.exp() * logp_all).sum(0).mean()
                    loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
                    opt.step()
            steps += batch
            bar.update(batch)
            row = {
                "update": update + 1,
                "steps": steps,
                "seconds": time.perf_counter() - start,
                "episodes": len(recent["reward"]),
                "entropy": float(entropy.detach()),
                "value_loss": float(v_loss.detach()),
            }
            row.update({f"mean_{k}": float(np.mean(v)) if v else float("nan") for k, v in recent.items()})
            rows.append(row)
            if checkpoint_every and (update + 1) % checkpoint_every == 0:
                checkpoints.append({k: v.detach().clone() for k, v in net.state_dict().items()})
            if (
                cfg.stop_at_return is not None
                and len(recent["reward"]) >= cfg.stop_window
                and row["mean_reward"] >= cfg.stop_at_return
            ):
                break
            if callback is not None:
                episodes = {k: np.concatenate([f[k] for f in finished]) for k in finished[0]} if finished else {}
                if callback({"update": update + 1, "steps": steps, "net": net, "episodes": episodes}):
                    break
    bar.close()
    net.eval()
    return TrainResult(net, pd.DataFrame(rows), steps, time.perf_counter() - start, checkpoints)


def config_dict(config: PPOConfig) -> dict:
    """Plain-data hyperparameters (for cache keys and tables)."""
    return asdict(config)


def policy_files(scenario: Scenario, seed: int, config: PPOConfig, cache_dir: str | None = None) -> tuple[Path, Path]:
    """Where :func:`train_cached` keeps this run's weights and its learning curve (``.pt``, ``.meta.pkl``).

    The key covers the scenario (its plain-data ``key()``), the hyperparameters, the seed
    and the source of the modules training depends on, so editing an analysis module does
    not throw away trained policies.
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(
            f"scenario must be a Scenario object (got {scenario!r}); accepted: "
            "misalign.scenarios.get_scenario(name, **overrides)"
        )
    key = cell_key(train, {"scenario": scenario, "config": config_dict(config)}, seed)
    folder = (default_cache_dir() if cache_dir is None else Path(cache_dir)) / "policies"
    return folder / f"{scenario.name}-{key}.pt", folder / f"{scenario.name}-{key}.meta.pkl"


def store_trained(result: TrainResult, scenario: Scenario, seed: int, files: tuple[Path, Path]) -> None:
    """Save a finished run where :func:`policy_files` says, each file atomically (curve first, weights last)."""
    weights, meta = files
    atomic_dump({"history": result.history, "steps": result.steps, "seconds": result.seconds}, meta)
    save_policy(result.policy, weights, {"scenario": scenario.name, "seed": seed})


def train_cached(
    scenario: Scenario,
    seed: int,
    config: PPOConfig = PPOConfig(),
    *,
    cache_dir: str | None = None,
    progress: bool = False,
) -> TrainResult:
    """:func:`train`, but reuse the saved policy when the same run was done before.

    Weights are saved with ``torch.save`` and loaded with ``weights_only=True``, the
    learning curve as a pickled table, both atomically (:func:`policy_files` gives the key).
    """
    files = policy_files(scenario, seed, config, cache_dir)
    weights, meta = files
    if weights.exists() and meta.exists():
        info = joblib.load(meta)
        note_policy("loaded", weights.stem)
        return TrainResult(load_policy(weights), info["history"], info["steps"], info["seconds"])
    result = train(scenario, config, seed, progress=progress)
    store_trained(result, scenario, seed, files)
    return result
