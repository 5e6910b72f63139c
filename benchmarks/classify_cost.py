"""What chapter 1's competence classifier (version 2) costs per sweep cell, apart from training.

For each of chapter 1's five rows, the seed's policy comes from the trained-policy cache
(trained first if absent, untimed), plays the cell's test episodes (untimed), and the
episodes are classified with ``classify_v2`` (timed: inverse planning over every candidate
goal, the counterfactual reruns). Chapter 1 classifies 100 such cells cold, so this cost
matters beside training. ``--compare REF`` times ``lib/`` at a git ref and the current one
in alternating fresh processes and checks that both classify every episode alike.

    OMP_NUM_THREADS=1 python benchmarks/classify_cost.py [--seed 0] [--episodes 256]
    OMP_NUM_THREADS=1 python benchmarks/classify_cost.py --compare 44b7cb7 --repeats 3

RESULT classify_s=... (--compare: RESULT before_s=... after_s=... speedup=... identical=...)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _git_lib import add_compare_arguments, alternate  # noqa: E402


def measure(seed: int, episodes: int) -> dict:
    """Seconds to classify each row's test episodes, and a digest of the outcomes."""
    from misalign.competence import classify_v2
    from misalign.experiments.behavioural import FRAMING1_CASES
    from misalign.ppo import PPOConfig, train_cached
    from misalign.rollouts import rollout
    from misalign.scenarios import get_scenario

    seconds, digest = {}, hashlib.sha256()
    for case in FRAMING1_CASES:
        sc = get_scenario(case.scenario, **dict(case.overrides))
        policy = train_cached(sc, seed, PPOConfig(total_steps=case.total_steps)).policy
        table = rollout(policy, sc, "test", episodes, seed=seed)
        start = time.perf_counter()
        classified = classify_v2(table, sc, "test")
        seconds[case.scenario] = time.perf_counter() - start
        digest.update(classified[["outcome", "revealed_goal"]].to_csv(index=False).encode())
    return {"seconds": seconds, "classify_s": sum(seconds.values()), "digest": digest.hexdigest()}


def compare(ref: str, repeats: int, seed: int, episodes: int) -> dict:
    flags = ["--seed", str(seed), "--episodes", str(episodes), "--json"]
    runs = alternate(ref, Path(__file__), flags, repeats)
    before, after = runs["before"], runs["after"]
    b = statistics.median(r["classify_s"] for r in before)
    a = statistics.median(r["classify_s"] for r in after)
    same = len({r["digest"] for r in before + after}) == 1
    return {"before_s": b, "after_s": a, "speedup": b / a, "identical": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=256, help="test episodes per row (chapter 1: 256)")
    add_compare_arguments(parser)
    args = parser.parse_args()
    if args.compare:
        r = compare(args.compare, args.repeats, args.seed, args.episodes)
        print(
            f"classifying chapter 1's five rows (seed {args.seed}, {args.episodes} episodes each), medians of "
            f"{args.repeats}: before {r['before_s']:.2f} s, after {r['after_s']:.2f} s"
        )
        print(
            f"RESULT before_s={r['before_s']:.2f} after_s={r['after_s']:.2f} speedup={r['speedup']:.2f} "
            f"identical={r['identical']}"
        )
        return
    r = measure(args.seed, args.episodes)
    if args.json:
        print(json.dumps(r))
        return
    for name, s in r["seconds"].items():
        print(f"{name:22s} {s:6.2f} s")
    print(f"RESULT classify_s={r['classify_s']:.2f}")


if __name__ == "__main__":
    main()
