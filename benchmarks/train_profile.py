"""Where a PPO training run spends its time, as shares of wall time, and steps per second per core.

Runs ``ppo.train`` unchanged (one thread) and times its parts from outside, by wrapping
the functions the loop calls: the environment step (``GridWorld.step``, observations
excluded), the observations (``GridWorld.observe``), the network's forward pass in the
rollout (no gradient) and in the update (with gradient), action sampling
(``torch.multinomial``), the backward pass, and the optimizer step. The advantage (GAE)
recursion is inline code, so it is timed apart: the same recursion on tensors of the
run's shapes, once per update. What is left ("rest") is the loss arithmetic, the softmax
of the rollout, buffer copies and the Python loop. Wrapping costs about a microsecond a call.

    OMP_NUM_THREADS=1 python benchmarks/train_profile.py [--scenario coin-diverse] [--alpha 0.25] [--steps 1000000]

Ends with: RESULT scenario=... steps=... wall_s=... steps_per_s=... (one core)
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from misalign import gridworld, ppo  # noqa: E402
from misalign.agents import ActorCritic  # noqa: E402
from misalign.scenarios import get_scenario  # noqa: E402

torch.set_num_threads(1)
SPENT: dict[str, float] = defaultdict(float)
_depth = {"observe": 0}


def _timed(label: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` that adds its wall time to ``SPENT[label(*args)]``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[label(*args, **kwargs)] += time.perf_counter() - start

    return wrapper


def install() -> None:
    """Wrap the parts of the loop (they stay wrapped for the life of the process)."""
    step, observe = gridworld.GridWorld.step, gridworld.GridWorld.observe

    def step_without_observations(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = SPENT["observations"]
        start = time.perf_counter()
        out = step(self, *args, **kwargs)
        SPENT["environment step"] += time.perf_counter() - start - (SPENT["observations"] - before)
        return out

    gridworld.GridWorld.step = step_without_observations
    gridworld.GridWorld.observe = _timed(lambda *a, **k: "observations", observe)
    forward = ActorCritic.forward
    ActorCritic.forward = _timed(
        lambda *a, **k: "update forward" if torch.is_grad_enabled() else "rollout forward", forward
    )
    torch.multinomial = _timed(lambda *a, **k: "action sampling", torch.multinomial)
    torch.Tensor.backward = _timed(lambda *a, **k: "update backward", torch.Tensor.backward)
    torch.optim.Adam.step = _timed(lambda *a, **k: "optimizer step", torch.optim.Adam.step)


def gae_seconds(cfg: ppo.PPOConfig, n_updates: int) -> float:
    """Wall time of ``n_updates`` GAE recursions as ``ppo._train`` runs them (same shapes and code)."""
    T, N = cfg.num_steps, cfg.num_envs
    rew, done, val, next_value = torch.rand(T, N), (torch.rand(T, N) < 0.05).float(), torch.rand(T, N), torch.rand(N)
    start = time.perf_counter()
    for _ in range(n_updates):
        adv, last = torch.zeros((T, N)), torch.zeros(N)
        for t in reversed(range(T)):
            nv = next_value if t == T - 1 else val[t + 1]
            nonterminal = 1.0 - done[t]
            delta = rew[t] + cfg.gamma * nv * nonterminal - val[t]
            last = delta + cfg.gamma * cfg.gae_lambda * nonterminal * last
            adv[t] = last
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="coin-diverse")
    parser.add_argument("--alpha", type=float, default=0.25, help="for coin-diverse only")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    overrides = {"alpha": args.alpha} if args.scenario == "coin-diverse" else {}
    scenario = get_scenario(args.scenario, **overrides)
    install()
    start = time.perf_counter()
    cfg = ppo.PPOConfig(total_steps=args.steps)
    result = ppo.train(scenario, cfg, seed=args.seed)
    wall = time.perf_counter() - start
    parts = dict(SPENT)
    parts["advantages (GAE)"] = gae_seconds(cfg, max(1, cfg.total_steps // (cfg.num_envs * cfg.num_steps)))
    parts["rest: losses, softmax, buffers, loop"] = wall - sum(parts.values())
    print(f"{'part':<38} {'seconds':>8} {'share':>7}")
    for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"{name:<38} {seconds:8.2f} {seconds / wall:7.1%}")
    rate = result.steps / wall
    print(
        f"RESULT scenario={scenario.name} steps={result.steps} wall_s={wall:.2f} steps_per_s={rate:.0f} "
        + " ".join(f"{k.split(':')[0].split(' (')[0].replace(' ', '_')}_share={v / wall:.3f}" for k, v in parts.items())
    )


if __name__ == "__main__":
    main()
