"""Random-action steps per second: our batched GridWorld against MiniGrid, same machine, same run.

Usage: OMP_NUM_THREADS=1 python benchmarks/env_throughput.py [--seconds 3]
Ends with one line: RESULT ours_steps_per_s=... minigrid_steps_per_s=... ratio=...
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from misalign.gridworld import GridWorld  # noqa: E402


def ours(num_envs: int, seconds: float) -> float:
    world = GridWorld("coin-at-exit", "train", num_envs, seed=0)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    results = {}
    for n in (256, 1024, 4096):
        results[n] = ours(n, args.seconds)
        print(f"ours   coin-at-exit 9x9  num_envs={n:5d}: {results[n]:>12,.0f} steps/s")
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
