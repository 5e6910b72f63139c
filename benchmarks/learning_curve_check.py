"""Does the faster engine learn as fast per sample? Steps to 95% training success, old engine vs new.

Issue 12 made ``ppo.train`` about twice as fast per sample (folded constant inputs, only
the varying inputs observed, a numpy rollout, inverse-CDF sampling, a small Adam with
torch's rule). The maths is meant to be the same (same
losses, same sampling distribution), but the random streams and float rounding differ,
so this checks the learning curves: for each seed, train coin-diverse-v1 (alpha 0.25) until
the mean training return over the last 2000 finished episodes reaches 0.95
(``PPOConfig(stop_at_return=0.95)``) and record the steps taken, once with ``lib/`` as
of git ``--ref`` (the engine before issue 12, extracted by ``_git_lib``) and once with
the working tree, each run in a fresh process. A run that does not reach 95% within
``--max-steps`` counts as ``--max-steps`` (a lower bound, marked ``>``).

Passes when the new engine's median steps-to-95% is within ``--tolerance`` (10%) of the
old one's. The 95% interval of the ratio of medians is a percentile bootstrap over seeds
(``scipy.stats.bootstrap``, the two engines resampled independently); with 10 seeds it
is wide, so read it next to the point estimate.

    OMP_NUM_THREADS=1 python benchmarks/learning_curve_check.py [--seeds 10] [--jobs 1]

Ends with: RESULT median_steps_old=... median_steps_new=... ratio=... passed=...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from _git_lib import BASELINE, ROOT, lib_at, run_with_lib  # noqa: E402

TARGET, WINDOW = 0.95, 2000


def worker(seed: int, alpha: float, max_steps: int) -> dict:
    """One training run to 95% in this process (``misalign`` from whichever lib is on the path)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    from misalign.ppo import PPOConfig, train
    from misalign.scenarios import get_scenario

    torch.set_num_threads(1)
    scenario = get_scenario("coin-diverse-v1", alpha=alpha)
    cfg = PPOConfig(total_steps=max_steps, stop_at_return=TARGET, stop_window=WINDOW, threads=1)
    start = time.perf_counter()
    result = train(scenario, cfg, seed=seed)
    seconds = time.perf_counter() - start
    last = result.history.iloc[-1]
    reached = bool(last["episodes"] >= WINDOW and last["mean_reward"] >= TARGET)
    return {"seed": seed, "steps": int(result.steps), "reached": reached, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--alpha", type=float, default=0.25)
    ap.add_argument("--max-steps", type=int, default=20_000_000, help="budget per run (also sets the lr schedule)")
    ap.add_argument("--ref", default=BASELINE, help="git ref of the old engine")
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (each one thread)")
    ap.add_argument("--worker", type=int, metavar="SEED", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.alpha, args.max_steps)))
        return

    flags = ["--alpha", str(args.alpha), "--max-steps", str(args.max_steps)]
    results: dict[str, dict[int, dict]] = {"old": {}, "new": {}}
    with lib_at(args.ref) as old_lib:
        libs = {"old": old_lib, "new": ROOT / "lib"}
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        jobs = [(engine, seed) for seed in seeds for engine in ("old", "new")]

        def run(job: tuple[str, int]) -> None:
            engine, seed = job
            out = run_with_lib(libs[engine], Path(__file__), [*flags, "--worker", str(seed)])
            results[engine][seed] = out
            mark = "" if out["reached"] else " (did not reach 95%)"
            print(f"{engine} seed {seed}: {out['steps']:>10,} steps, {out['seconds']:6.1f} s{mark}", flush=True)

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run, jobs))

    steps = {e: np.array([results[e][s]["steps"] for s in seeds], dtype=float) for e in results}
    capped = {e: sum(not r["reached"] for r in results[e].values()) for e in results}
    med = {e: float(np.median(v)) for e, v in steps.items()}
    ratio = med["new"] / med["old"]
    ci = stats.bootstrap(
        (steps["old"], steps["new"]),
        lambda old, new: np.median(new) / np.median(old),
        vectorized=False,
        n_resamples=9999,
        method="percentile",
        random_state=0,
    ).confidence_interval
    passed = abs(ratio - 1) <= args.tolerance
    print(f"\nsteps to {TARGET:.0%} training success (mean return over the last {WINDOW} episodes), per seed:")
    print(f"{'seed':>4} {'old':>12} {'new':>12}")
    for s in seeds:
        cells = []
        for e in ("old", "new"):
            r = results[e][s]
            cells.append(f"{'>' if not r['reached'] else ''}{r['steps']:,}")
        print(f"{s:>4} {cells[0]:>12} {cells[1]:>12}")
    secs = {e: float(np.median([r["seconds"] for r in results[e].values()])) for e in results}
    print(
        f"median wall time to 95% (one core, {args.jobs} run(s) at a time): "
        f"old {secs['old']:.1f} s, new {secs['new']:.1f} s"
    )
    print(f"runs that did not reach 95% within {args.max_steps:,} steps: old {capped['old']}, new {capped['new']}")
    print(f"ratio of medians new/old {ratio:.3f}, 95% bootstrap interval [{ci.low:.3f}, {ci.high:.3f}]")
    print(
        f"RESULT median_steps_old={med['old']:.0f} median_steps_new={med['new']:.0f} ratio={ratio:.3f} "
        f"ci_low={ci.low:.3f} ci_high={ci.high:.3f} passed={passed} seeds={args.seeds} tolerance={args.tolerance} "
        f"median_seconds_old={secs['old']:.1f} median_seconds_new={secs['new']:.1f} ref={args.ref[:12]}"
    )


if __name__ == "__main__":
    main()
