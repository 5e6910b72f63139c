"""How much of each published training run comes after its training reward has levelled off?

Issue 12 asks for fewer samples per result, among them stopping "at a stated convergence
criterion where an experiment allows it". Before a chapter adopts such a stop, this reads
the learning curves of its published runs (from the trained-policy cache; a missing run is
trained first, with the chapter's settings) and reports, per setting over seeds, the step from
which the mean training reward (smoothed over 5 updates) stays within 5% (and 2%) of its
final level (the mean of the last 10 updates). The share of the budget after that step is an
upper bound on what a convergence stop could save: an online rule needs a margin, and a
stop is only allowed where the page's verdict does not change with it, which chapter 1
shows for each of its rows (the verdict over budgets, from copies its runs keep).

    OMP_NUM_THREADS=1 python benchmarks/convergence_headroom.py [--seeds 10] [--also keys-chests:5000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from misalign.experiments.behavioural import AMBIGUOUS_CASE, FRAMING1_CASES, LOOKALIKE_CASE, VERSION_1_CASES  # noqa: E402
from misalign.ppo import PPOConfig, train_cached  # noqa: E402
from misalign.scenarios import get_scenario  # noqa: E402

BANDS = (0.05, 0.02)  # within 5% (2%) of the final level, and staying there
FINAL_UPDATES = 10
SMOOTH = 5


def levelled_off_at(history: pd.DataFrame, band: float) -> int:
    """The step from which the mean training reward (a rolling mean over ``SMOOTH`` updates) stays
    within ``band`` (a share) of its final level (the mean of the last ``FINAL_UPDATES`` updates)."""
    reward = history["mean_reward"].rolling(SMOOTH, min_periods=1).mean().to_numpy()
    final = history["mean_reward"].to_numpy()[-FINAL_UPDATES:].mean()
    outside = np.flatnonzero(np.abs(reward - final) > band * abs(final))
    first_inside = 0 if len(outside) == 0 else min(outside[-1] + 1, len(reward) - 1)
    return int(history["steps"].iloc[first_inside])


def settings() -> list[tuple[str, str, dict, int]]:
    """(chapter, label, scenario overrides, budget) of the published runs measured here."""
    rows = [
        ("ch1", " ".join([c.scenario, *(f"({k} {v})" for k, v in c.overrides)]), c, c.total_steps)
        for c in FRAMING1_CASES
    ]
    rows += [("ch1", "coin-at-exit (look-alike)", LOOKALIKE_CASE, LOOKALIKE_CASE.total_steps)]
    rows += [("ch1", "absent-supervisor (blur)", AMBIGUOUS_CASE, AMBIGUOUS_CASE.total_steps)]
    rows += [("ch3, ch4", c.scenario, c, c.total_steps) for c in VERSION_1_CASES if c.scenario.startswith("coin")]
    return [(ch, label, dict(case.overrides) | {"name": case.scenario}, budget) for ch, label, case, budget in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (the published runs use 0-9)")
    ap.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="SCENARIO:STEPS",
        help="more settings, e.g. keys-chests:5000000 (chapter 3's keys-and-chests budget)",
    )
    args = ap.parse_args()
    rows = []
    extra = []
    for item in args.also:
        name, _, steps = item.partition(":")
        if not steps.isdigit():
            ap.error(f"--also takes SCENARIO:STEPS (e.g. keys-chests:5000000), got {item!r}")
        extra.append(("--also", name, {"name": name}, int(steps)))
    for chapter, label, spec, budget in settings() + extra:
        spec = dict(spec)
        scenario = get_scenario(spec.pop("name"), **spec)
        for seed in range(args.seeds):
            history = train_cached(scenario, seed, PPOConfig(total_steps=budget)).history
            row = {"chapter": chapter, "setting": label, "seed": seed, "budget": int(history["steps"].iloc[-1])}
            rows.append(row | {f"at {band:.0%}": levelled_off_at(history, band) for band in BANDS})
    table = pd.DataFrame(rows)
    groups = table.groupby(["chapter", "setting"], sort=False)
    summary = groups[["budget"]].first()
    result = {}
    for band in BANDS:
        at = f"at {band:.0%}"
        summary[f"median {at}"] = groups[at].median()
        summary[f"latest {at}"] = groups[at].max()
        # per-run stops save each run's budget after its own step
        summary[f"saved {band:.0%}"] = (table["budget"] - table[at]).groupby(
            [table["chapter"], table["setting"]], sort=False
        ).sum() / groups["budget"].sum()
        ch1 = table[table["chapter"] == "ch1"]
        result[f"ch1_saved_{band:.0%}"] = float((ch1["budget"] - ch1[at]).sum() / ch1["budget"].sum())
    with pd.option_context("display.width", 220, "display.float_format", "{:,.2f}".format):
        print(summary.to_string())
    print(f"RESULT seeds={args.seeds} " + " ".join(f"{k.replace('%', 'pc')}={v:.2f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
