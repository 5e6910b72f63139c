"""Where a PPO training run spends its time, as shares of wall time, and steps per second per core.

Runs ``ppo.train`` unchanged (one thread) and times its parts from outside, by wrapping
the functions the loop calls: the environment step (``GridWorld.step``, observations
excluded), the observations (``GridWorld.observe``), the network's forward pass in the
rollout and in the update, action sampling, the advantages (GAE), the backward pass and
the optimizer step. What is left ("rest") is the loss arithmetic, buffer copies, episode
statistics and the Python loop. Wrapping costs about a microsecond a call.

A short untimed warm-up run comes first (``--warmup-steps``): the first optimizer of a
process imports ``torch._dynamo`` (about 1.5 s) and the first world generates its level
bank, one-time costs that are not a cost per sample. ``--warmup-steps 0`` times a cold
process, as this script did before the warm-up existed.

``--compare REF`` measures before and after in one invocation: it alternates fresh
processes profiling ``lib/`` as of git ``REF`` (the older engine; this script knows the
functions both engines call) and the working tree, ``--repeats`` times each, and reports
medians.

    OMP_NUM_THREADS=1 python benchmarks/train_profile.py [--scenario coin-diverse-v1] [--alpha 0.25] [--steps 1000000]
    OMP_NUM_THREADS=1 python benchmarks/train_profile.py --compare 61a1333 --repeats 5

Ends with: RESULT scenario=... steps=... wall_s=... steps_per_s=... (one core), or with
--compare: RESULT before_steps_per_s=... after_steps_per_s=... speedup=...
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _git_lib import add_compare_arguments, alternate  # noqa: E402
from misalign import agents, gridworld, ppo  # noqa: E402
from misalign.scenarios import get_scenario  # noqa: E402

torch.set_num_threads(1)
SPENT: dict[str, float] = defaultdict(float)


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


def _const(name: str) -> Callable[..., str]:
    return lambda *a, **k: name


def install() -> None:
    """Wrap the parts of the loop (they stay wrapped for the life of the process).

    The current engine runs the network through ``agents.FoldedForward`` and samples with
    ``ppo.sample_actions``; the engine before issue 12 called ``ActorCritic.forward`` and
    ``torch.multinomial``. Whichever functions the imported library has are wrapped.
    """
    step, observe = gridworld.GridWorld.step, gridworld.GridWorld.observe

    def step_without_observations(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = SPENT["observations"]
        start = time.perf_counter()
        out = step(self, *args, **kwargs)
        SPENT["environment step"] += time.perf_counter() - start - (SPENT["observations"] - before)
        return out

    gridworld.GridWorld.step = step_without_observations
    gridworld.GridWorld.observe = _timed(_const("observations"), observe)
    if hasattr(agents, "FoldedForward"):
        folded = agents.FoldedForward
        folded.rollout = _timed(_const("rollout forward"), folded.rollout)
        folded.__call__ = _timed(_const("update forward"), folded.__call__)
        ppo.sample_actions = _timed(_const("action sampling"), ppo.sample_actions)
        ppo.gae = _timed(_const("advantages (GAE)"), ppo.gae)
    else:
        forward = agents.ActorCritic.forward
        agents.ActorCritic.forward = _timed(
            lambda *a, **k: "update forward" if torch.is_grad_enabled() else "rollout forward", forward
        )
        torch.multinomial = _timed(_const("action sampling"), torch.multinomial)
    torch.Tensor.backward = _timed(_const("update backward"), torch.Tensor.backward)
    if hasattr(ppo, "Adam"):
        ppo.Adam.step = _timed(_const("optimizer step"), ppo.Adam.step)
    else:
        torch.optim.Adam.step = _timed(_const("optimizer step"), torch.optim.Adam.step)


def old_gae_seconds(cfg: ppo.PPOConfig, n_updates: int) -> float:
    """Wall time of ``n_updates`` GAE recursions as the old engine ran them inline (same shapes and code)."""
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


def profile(
    scenario_name: str, alpha: float, steps: int, seed: int, warmup_steps: int, batch_scale: int = 1
) -> dict[str, Any]:
    """One timed training run in this process (after an untimed warm-up), as plain data.

    ``batch_scale`` k runs k times the episodes and k times the minibatch: the batch sizes that
    k seeds trained in one process as one population would give each call, with the same
    network arithmetic per sample, so its per-sample cost bounds what population training saves.
    """
    overrides = {"alpha": alpha} if scenario_name == "coin-diverse-v1" else {}
    scenario = get_scenario(scenario_name, **overrides)
    warmup_s = 0.0
    if warmup_steps:
        start = time.perf_counter()
        ppo.train(scenario, ppo.PPOConfig(total_steps=warmup_steps), seed=seed + 1)
        warmup_s = time.perf_counter() - start
    install()
    base = ppo.PPOConfig()
    cfg = ppo.PPOConfig(
        total_steps=steps, num_envs=base.num_envs * batch_scale, minibatch_size=base.minibatch_size * batch_scale
    )
    start = time.perf_counter()
    result = ppo.train(scenario, cfg, seed=seed)
    wall = time.perf_counter() - start
    parts = dict(SPENT)
    if "advantages (GAE)" not in parts:
        parts["advantages (GAE)"] = old_gae_seconds(cfg, len(result.history))
    parts["rest: losses, buffers, statistics, loop"] = wall - sum(parts.values())
    return {
        "scenario": scenario.name,
        "steps": result.steps,
        "wall_s": wall,
        "steps_per_s": result.steps / wall,
        "warmup_s": warmup_s,
        "warmup_steps": warmup_steps,
        "shares": {k: v / wall for k, v in parts.items()},
        "lib": str(Path(ppo.__file__).parents[1]),
    }


def print_table(columns: dict[str, dict[str, float]]) -> None:
    names = sorted(
        {k for shares in columns.values() for k in shares}, key=lambda k: -max(c.get(k, 0) for c in columns.values())
    )
    print(f"{'part':<42}" + "".join(f"{c:>12}" for c in columns))
    for name in names:
        print(f"{name:<42}" + "".join(f"{columns[c].get(name, 0.0):12.1%}" for c in columns))


def compare(ref: str, repeats: int, args: argparse.Namespace) -> None:
    """Alternate fresh processes on ``lib/`` at ``ref`` and on the working tree; report medians."""
    flags = ["--json", "--scenario", args.scenario, "--alpha", str(args.alpha), "--steps", str(args.steps)]
    flags += ["--seed", str(args.seed), "--warmup-steps", str(args.warmup_steps)]

    def show(i: int, label: str, out: dict) -> None:
        print(f"round {i + 1} {label:<6} steps/s {out['steps_per_s']:9.0f}  (wall {out['wall_s']:.2f} s)", flush=True)

    runs = alternate(ref, Path(__file__), flags, repeats, show)
    med = {k: statistics.median(r["steps_per_s"] for r in v) for k, v in runs.items()}
    shares = {
        k: {n: statistics.median(r["shares"].get(n, 0.0) for r in v) for n in v[0]["shares"]} for k, v in runs.items()
    }
    seconds = {
        f"{k} s/1M": {
            n: s * statistics.median(r["wall_s"] for r in runs[k]) * 1e6 / runs[k][0]["steps"] for n, s in sh.items()
        }
        for k, sh in shares.items()
    }
    print(f"\nmedian shares of wall time ({repeats} runs each, one core; before = lib/ at {ref}):")
    print_table({"before": shares["before"], "after": shares["after"]})
    print("\nmedian seconds per million steps by part:")
    for name in sorted(seconds["before s/1M"], key=lambda n: -seconds["before s/1M"][n]):
        row = [seconds[c].get(name, 0.0) for c in seconds]
        print(f"{name:<42}" + "".join(f"{x:12.2f}" for x in row))
    before_all = " ".join(f"{r['steps_per_s']:.0f}" for r in runs["before"])
    after_all = " ".join(f"{r['steps_per_s']:.0f}" for r in runs["after"])
    print(f"\nsteps/s before: {before_all}\nsteps/s after:  {after_all}")
    print(
        f"RESULT before_steps_per_s={med['before']:.0f} after_steps_per_s={med['after']:.0f} "
        f"speedup={med['after'] / med['before']:.2f} repeats={repeats} ref={ref} steps={args.steps} "
        f"warmup_steps={args.warmup_steps} scenario={runs['after'][0]['scenario']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="coin-diverse-v1")
    parser.add_argument("--alpha", type=float, default=0.25, help="for coin-diverse-v1 only")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup-steps", type=int, default=50_000, help="untimed run first (0: time a cold process)")
    parser.add_argument(
        "--batch-scale",
        type=int,
        default=1,
        help="k times the episodes and minibatch per call (what k seeds in one process would give)",
    )
    add_compare_arguments(parser, "engine")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.repeats, args)
        return
    if args.batch_scale < 1:
        parser.error(f"--batch-scale must be an integer >= 1, got {args.batch_scale}")
    out = profile(args.scenario, args.alpha, args.steps, args.seed, args.warmup_steps, args.batch_scale)
    if args.json:
        print(json.dumps(out))
        return
    wall = out["wall_s"]
    print(f"{'part':<42} {'seconds':>8} {'share':>7}")
    for name, share in sorted(out["shares"].items(), key=lambda kv: -kv[1]):
        print(f"{name:<42} {share * wall:8.2f} {share:7.1%}")
    if args.warmup_steps:
        print(f"(untimed warm-up first: {args.warmup_steps} steps in {out['warmup_s']:.2f} s, one-time costs included)")
    print(
        f"RESULT scenario={out['scenario']} steps={out['steps']} wall_s={wall:.2f} "
        f"steps_per_s={out['steps_per_s']:.0f} "
        + " ".join(
            f"{k.split(':')[0].split(' (')[0].replace(' ', '_')}_share={v:.3f}" for k, v in out["shares"].items()
        )
    )


if __name__ == "__main__":
    main()
