"""Random-action steps per second: our batched GridWorld against MiniGrid, same machine, same run.

Usage: OMP_NUM_THREADS=1 python benchmarks/env_throughput.py [--seconds 3]
Ends with one line: RESULT ours_steps_per_s=... minigrid_steps_per_s=... ratio=...

``--worlds [NAME ...]`` measures instead, per scenario, how fast its training bank is
generated (levels per second) and how fast a batch of 1,024 episodes steps on it (random
actions), one line each: RESULT worlds scenario=... levels_per_s=... steps_per_s=...
Without names it measures a version-1 and the procedurally varied scenarios that exist,
so the same command gives the figures before and after a change to the generators.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from misalign.gridworld import GridWorld  # noqa: E402
from misalign.levels import generate_bank  # noqa: E402
from misalign.scenarios import SCENARIO_NAMES, get_scenario  # noqa: E402

WORLDS = ("coin-at-exit-v1", "capability-shift-v1", "coin-at-exit", "maze-corner", "capability-shift")


def ours(num_envs: int, seconds: float, scenario: str = "coin-at-exit-v1") -> float:
    world = GridWorld(scenario, "train", num_envs, seed=0)
    world.reset()
    rng = np.random.default_rng(0)
    actions = rng.integers(4, size=(64, num_envs))
    for a in actions[:5]:
        world.step(a)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions:
            world.step(a)
        steps += len(actions) * num_envs
    return steps / (time.perf_counter() - start)


def minigrid(num_envs: int, seconds: float) -> float:
    import minigrid  # noqa: F401  (registers the MiniGrid ids)
    from minigrid.wrappers import ImgObsWrapper

    envs = gym.vector.SyncVectorEnv([lambda: ImgObsWrapper(gym.make("MiniGrid-Empty-8x8-v0")) for _ in range(num_envs)])
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            envs.step(rng.integers(3, size=num_envs))  # left, right, forward: the moves of Empty
        steps += 20 * num_envs
    envs.close()
    return steps / (time.perf_counter() - start)


def bank_speed(scenario: str, seconds: float, n_levels: int = 4096) -> float:
    """Training levels generated per second (banks of ``n_levels``, fresh seeds, best of the runs)."""
    spec = get_scenario(scenario).train
    best, seed, start = 0.0, 0, time.perf_counter()
    while seed < 2 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        generate_bank(spec, n_levels, seed)
        best = max(best, n_levels / (time.perf_counter() - t0))
        seed += 1
    return best


def worlds(names: list[str], seconds: float) -> None:
    for name in names or [n for n in WORLDS if n in SCENARIO_NAMES]:
        levels = bank_speed(name, seconds)
        steps = ours(1024, seconds, name)
        size = get_scenario(name).train.size
        print(f"{name:>20s} {size}x{size}: {levels:>9,.0f} levels/s generated, {steps:>12,.0f} steps/s (1,024 envs)")
        print(f"RESULT worlds scenario={name} levels_per_s={levels:.0f} steps_per_s={steps:.0f} num_envs=1024")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--worlds", nargs="*", metavar="NAME", help="bank generation and stepping per scenario")
    args = ap.parse_args()
    if args.worlds is not None:
        worlds(args.worlds, args.seconds)
        return
    results = {}
    for n in (256, 1024, 4096):
        results[n] = ours(n, args.seconds)
        print(f"ours   coin-at-exit-v1 9x9  num_envs={n:5d}: {results[n]:>12,.0f} steps/s")
    mg = {}
    for n in (8, 32):
        mg[n] = minigrid(n, args.seconds)
        print(f"minigrid Empty-8x8 SyncVectorEnv num_envs={n:3d}: {mg[n]:>10,.0f} steps/s")
    best_n = max(results, key=results.get)
    best_mg = max(mg, key=mg.get)
    ratio = results[best_n] / mg[best_mg]
    print(
        f"RESULT ours_steps_per_s={results[best_n]:.0f} ours_best_num_envs={best_n} "
        + " ".join(f"ours_{n}={v:.0f}" for n, v in results.items())
        + f" minigrid_steps_per_s={mg[best_mg]:.0f} minigrid_num_envs={best_mg} ratio={ratio:.0f}"
    )


if __name__ == "__main__":
    main()
