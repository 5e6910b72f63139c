"""Wall time to 95% training success on coin-at-exit-v1: our PPO vs stable-baselines3 PPO, same machine, same run.

(a) ``ppo.train`` on the batched env, stopping when the mean training return (= coin
    success rate here) over the last 2000 episodes reaches 0.95; median over seeds.
(b) SB3 PPO as a newcomer runs it: 8 GridEnvs in a DummyVecEnv, n_steps=128, batch 64,
    otherwise SB3 defaults (10 epochs, lr 3e-4).
(c) SB3 PPO at its strongest: sb3_vec_env with 256 envs x 32 steps, batch 4096, 2 epochs, lr 2.5e-3.
For SB3 a callback measures success on 256 training levels every ``--eval-every`` steps and
stops at 95%; evaluation time is excluded from its wall time. A run that does not
reach 95% within ``--cap`` seconds is reported as "> cap".

Usage: OMP_NUM_THREADS=1 python benchmarks/train_speed.py [--seeds 3] [--cap 600] [--alpha A] [--fleet N]

``--alpha`` trains coin-diverse-v1 instead (a share A of training levels with the coin anywhere):
coin-at-exit-v1's training levels differ only in the agent's start (48 distinct levels), so 95%
comes within a few thousand steps for every learner and the comparison mostly measures
fixed overheads; coin-diverse-v1 (alpha = 0.25) needs millions of steps and measures learning speed.
``--fleet N`` answers the question researchers ask: how long does it take to train N seeds
(10 is usual) to 95% training success, seeds one after another, with each learner? Ours,
(b) and (c) each train seeds 0..N-1 in this process; the fleet time is the sum of the
per-seed times. An SB3 seed that does not finish within ``--cap`` counts as the cap, and its
total and ratio become lower bounds (">"). Ours gives up at 20M steps; a seed of ours that
has not reached 95% by then is censored too: its total is then a lower bound and the ratio
is marked "<" (an upper bound), or "~" when both sides are censored (a bound neither way).
The ratios are SB3's total over ours, so they are scale-free: a run with fewer seeds
estimates the 10-seed ratio, and is labelled with the number of seeds it ran
(``ratio_{N}seeds``), but a few seeds can miss a seed that plateaus (the 10-seed run
found one of ours). For the issue-12 question:

    OMP_NUM_THREADS=1 python benchmarks/train_speed.py --alpha 0.25 --fleet 10 --cap 600

The fleet summary also gives each learner's Kaplan-Meier median time to 95% per seed
(censored seeds as censored), the typical seed's cost, which a few very slow seeds do not
dominate as they dominate a sum.

Ends with one line: RESULT ours_s=... sb3_newcomer_s=... sb3_strong_s=... ratio=... ratio_strong=... peak_rss_mb=...
and, with ``--fleet N``: ... ours_fleet_s=... sb3_newcomer_fleet_s=... sb3_strong_fleet_s=...
ratio_{N}seeds=... ratio_strong_{N}seeds=...
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from misalign.envs import GridEnv, sb3_vec_env  # noqa: E402
from misalign.ppo import PPOConfig, train  # noqa: E402
from misalign.rollouts import rollout  # noqa: E402
from misalign.scenarios import get_scenario  # noqa: E402
from misalign.stats import km_median  # noqa: E402

torch.set_num_threads(1)
TARGET = 0.95


SCENARIO = get_scenario("coin-at-exit-v1")


def success(policy) -> float:
    return float((rollout(policy, SCENARIO, "train", n_episodes=256, seed=0)["coin"] > 0).mean())


OURS_MAX_STEPS = 20_000_000  # ours gives up here; a seed that has not reached 95% by then is censored


def ours(seed: int) -> tuple[float, float, int, bool]:
    """Seconds, success after the stop, steps, and whether the stop criterion was met (not censored)."""
    start = time.perf_counter()
    config = PPOConfig(total_steps=OURS_MAX_STEPS, stop_at_return=TARGET, threads=1)
    result = train(SCENARIO, config, seed=seed)
    seconds = time.perf_counter() - start
    last = result.history.iloc[-1]
    reached = bool(last["episodes"] >= config.stop_window and last["mean_reward"] >= TARGET)
    return seconds, success(result.policy), result.steps, reached


def sb3_run(kind: str, seed: int, cap: float, eval_every: int) -> tuple[float | None, float, int]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class StopAtSuccess(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval, self.eval_time, self.rate, self.reached = eval_every, 0.0, 0.0, False
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += eval_every
                t = time.perf_counter()
                self.rate = success(lambda o: self.model.predict(o, deterministic=False)[0])
                self.eval_time += time.perf_counter() - t
                if self.rate >= TARGET:
                    self.reached = True
                    return False
            return time.perf_counter() - self.t0 - self.eval_time < cap

    start = time.perf_counter()
    if kind == "newcomer":
        venv = DummyVecEnv([lambda: Monitor(GridEnv(SCENARIO)) for _ in range(8)])
        venv.seed(seed)
        model = PPO("MlpPolicy", venv, n_steps=128, batch_size=64, seed=seed, device="cpu")
    else:
        venv = sb3_vec_env(SCENARIO, num_envs=256, seed=seed)
        model = PPO(
            "MlpPolicy", venv, n_steps=32, batch_size=4096, n_epochs=2, learning_rate=2.5e-3, seed=seed, device="cpu"
        )
    cb = StopAtSuccess()
    cb.t0 = start
    model.learn(50_000_000, callback=cb)
    seconds = time.perf_counter() - start - cb.eval_time
    return (seconds if cb.reached else None), cb.rate, model.num_timesteps


def fmt(s: float | None, cap: float) -> str:
    return f"{s:.1f}" if s is not None else f">{cap:.0f}"


def fleet_total(times: list[float | None], cap: float) -> tuple[float, bool]:
    """Sum of per-seed times, a capped seed counting as ``cap``; and whether the sum is a lower bound."""
    return sum(cap if s is None else s for s in times), any(s is None for s in times)


def bound_mark(sb3_censored: bool, ours_censored: bool) -> str:
    """How SB3's total over ours relates to the true ratio: ``>`` when only SB3's total is a lower bound,
    ``<`` when only ours is, ``~`` when both are (then it bounds neither way), nothing when neither is."""
    marks = {(True, False): ">", (False, True): "<", (True, True): "~", (False, False): ""}
    return marks[(sb3_censored, ours_censored)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3, help="seeds of ours for the median in (a)")
    ap.add_argument("--cap", type=float, default=600.0, help="SB3 training seconds per seed before giving up")
    ap.add_argument("--eval-every", type=int, default=2048)
    ap.add_argument("--alpha", type=float, default=None, help="train coin-diverse-v1 with this alpha instead")
    ap.add_argument("--fleet", type=int, default=0, help="also time N seeds one after another per learner")
    args = ap.parse_args()
    global SCENARIO
    if args.alpha is not None:
        SCENARIO = get_scenario("coin-diverse-v1", alpha=args.alpha)
    print(f"scenario: {SCENARIO.name}" + (f" (alpha {args.alpha})" if args.alpha is not None else ""))

    times, censored = [], []
    for seed in range(max(args.seeds, args.fleet)):
        s, rate, steps, reached = ours(seed)
        times.append(s)
        censored.append(not reached)
        note = "" if reached else f" (did not reach 95% within {OURS_MAX_STEPS:,} steps: censored)"
        print(f"(a) ours      seed {seed}: {s:6.1f} s, {steps:>9,} steps, success after stop {rate:.3f}{note}")
    ours_s = float(np.median(times[: args.seeds]))
    print(f"(a) ours median over {args.seeds} seeds: {ours_s:.1f} s")
    sb3_times: dict[str, list[float | None]] = {"newcomer": [], "strong": []}
    for seed in range(max(1, args.fleet)):
        new_s, new_rate, new_steps = sb3_run("newcomer", seed, args.cap, args.eval_every)
        sb3_times["newcomer"].append(new_s)
        print(
            f"(b) SB3 newcomer (DummyVecEnv 8 x GridEnv, n_steps 128, batch 64) seed {seed}: {fmt(new_s, args.cap)} s, "
            f"{new_steps:,} steps, last success {new_rate:.3f}",
            flush=True,
        )
        strong_s, strong_rate, strong_steps = sb3_run("strong", seed, args.cap, max(args.eval_every, 8192))
        sb3_times["strong"].append(strong_s)
        print(
            f"(c) SB3 strong (sb3_vec_env 256 x 32, batch 4096, 2 epochs) seed {seed}: {fmt(strong_s, args.cap)} s, "
            f"{strong_steps:,} steps, last success {strong_rate:.3f}",
            flush=True,
        )
    new_s, strong_s = sb3_times["newcomer"][0], sb3_times["strong"][0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")

    def ratio(x):
        return f"{x / ours_s:.1f}" if x is not None else f">{args.cap / ours_s:.1f}"

    line = (
        f"RESULT ours_s={ours_s:.1f} sb3_newcomer_s={fmt(new_s, args.cap)} sb3_strong_s={fmt(strong_s, args.cap)} "
        f"ratio={ratio(new_s)} ratio_strong={ratio(strong_s)} "
        f"peak_rss_mb={peak_mb:.0f} seeds={args.seeds} cap_s={args.cap:.0f} "
        f"scenario={SCENARIO.name}" + (f" alpha={args.alpha}" if args.alpha is not None else "")
    )
    if args.fleet:
        n = args.fleet
        ours_total, ours_cut = sum(times[:n]), sum(censored[:n])
        totals = {k: fleet_total(v, args.cap) for k, v in sb3_times.items()}
        print(f"\nwall time to train {n} seeds to 95%, one after another (SB3 capped at {args.cap:.0f} s a seed):")
        print(f"  ours            {'>' if ours_cut else ' '}{ours_total:8.1f} s  ({ours_cut} seed(s) censored)")
        for k, (total, bound) in totals.items():
            print(f"  SB3 {k:<11} {'>' if bound else ' '}{total:8.1f} s  ({total / ours_total:.1f}x ours)")
        # the typical seed, robust to censoring: Kaplan-Meier medians of the time to 95%
        medians = {"ours": km_median(times[:n], [not c for c in censored[:n]])}
        for k, v in sb3_times.items():
            medians[k] = km_median([args.cap if s is None else s for s in v], [s is not None for s in v])
        print("Kaplan-Meier median time to 95% per seed (95% interval; censored seeds counted as censored):")
        for k, (med, low, high) in medians.items():
            print(f"  {k:<15} {med:8.1f} s  [{low:.1f}, {high:.1f}]  ({med / medians['ours'][0]:.1f}x ours)")
        for k, (total, bound) in totals.items():
            tag = "sb3_newcomer" if k == "newcomer" else "sb3_strong"
            line += f" {tag}_fleet_s={'>' if bound else ''}{total:.1f}"
        line += (
            f" km_median_ours_s={medians['ours'][0]:.1f}"
            f" km_median_ratio={medians['newcomer'][0] / medians['ours'][0]:.1f}"
            f" km_median_ratio_strong={medians['strong'][0] / medians['ours'][0]:.1f}"
        )
        new_total, new_bound = totals["newcomer"]
        strong_total, strong_bound = totals["strong"]
        line += (
            f" ours_fleet_s={'>' if ours_cut else ''}{ours_total:.1f} ours_censored_seeds={ours_cut} fleet_seeds={n}"
            f" ratio_{n}seeds={bound_mark(new_bound, bool(ours_cut))}{new_total / ours_total:.1f}"
            f" ratio_strong_{n}seeds={bound_mark(strong_bound, bool(ours_cut))}{strong_total / ours_total:.1f}"
        )
    print(line)


if __name__ == "__main__":
    main()
