# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["remove-input", "remove-output"]
# Colab only: install the book's library (elsewhere `make venv` or environment.yml has).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/misalign-book/misalign"],
                   check=True)

# %% [markdown]
# # Framing 1.5: what caused the misbehaviour?
#
# Framing 1 sorted a test behaviour by how the *original reward* would score it in the
# test environment. The essay's next step {cite}`ngo2022framings` drops that question,
# which is ill-posed when the test world is far from the training world, and asks about
# causes instead. Nothing is trained at test time, so a test behaviour can only come from
# two sources: the rewards the policy received during training, and the way the learner
# generalizes from them (its *inductive biases*: architecture, observation, optimizer,
# initialization). A failure is *outer* when it was caused mainly by wrong training
# rewards and *inner* when it was caused mainly by inductive biases. Both always
# contribute to every action, so the essay proposes a graded test: **how much would the
# training rewards have had to change to prevent the misbehaviour?** If correcting a few
# training datapoints (found, perhaps, by training-data attribution) would have fixed
# it, the reward is to blame; if even large changes would not, the bias is.
#
# This chapter measures that quantity, a **correction budget**, for two of the failures
# that chapter 1 defines, in version 1's worlds (the `-v1` scenarios, which this chapter
# keeps until it moves to the procedurally varied ones in its own issue): the inner one
# (coin-at-exit-v1: the coin always sits beside the exit in training, the policy learns to
# go to the exit) and the outer one (checkpoint-v1: R pays 0.5 for every entry onto a
# checkpoint tile, H only wants the exit, and the policy learns to step on and off the
# tile). Both budgets are expressed in the
# same unit, the **share of training episodes whose reward signal is changed**, so they
# can be compared:
#
# * inner: the share alpha of training levels whose coin is moved away from the exit
#   (on those levels, going to the exit without the coin now earns nothing);
# * outer: the share k of training episodes that are paid by H instead of R (a reviewer
#   relabelling a random sample of episodes; the agent cannot tell which).
#
# Then we ask whether training-data attribution finds the levels that matter, checking
# its answer against retraining, and whether other architectures or observations, given
# identical levels and rewards, generalize differently.

# %% [markdown]
# ## Parameters

# %% tags=["parameters"]
profile = "full"  # "full": the published run; "smoke": a fast pipeline check
seeds = None  # None: the profile's seeds (10 in "full"); or a list of ints
device = "cpu"  # the gridworld and the small networks run on the CPU

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from misalign.chapter import Profile, open_chapter
from misalign.claims import check_claims, claim, glue, glue_interval
from misalign.corrections import correction_budget, indifference_share
from misalign.experiments.causes import (
    ABLATIONS,
    COIN_COLUMNS,
    ablation_cell,
    alpha_cell,
    attribution_cell,
    reward_correction_cell,
    shares_summary,
)
from misalign.outcomes import OUTCOMES
from misalign.plotting import OUTCOME_COLOURS, outcome_bars
from misalign.stats import mean_ci
from misalign.sweeps import expand_grid, run_sweep

PROFILES = {
    "full": Profile(n_seeds=10, settings={
        "episodes": 256, "threshold": 0.25,
        "alphas": [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25], "alpha_steps": 1_000_000,
        "ks": [0.0, 0.1, 0.25, 0.5], "k_steps": 1_000_000,
        "attr_levels": 32, "attr_m": (4, 12), "attr_steps": 400_000, "attr_every": 6,
        "ablation_steps": 100_000, "cnn_seeds": 3}),
    "smoke": Profile(n_seeds=2, enforce_claims=False, settings={
        "episodes": 32, "threshold": 0.25,
        "alphas": [0.0, 0.1, 0.25], "alpha_steps": 16_384,
        "ks": [0.0, 0.5], "k_steps": 16_384,
        "attr_levels": 8, "attr_m": (2,), "attr_steps": 16_384, "attr_every": 1,
        "ablation_steps": 16_384, "cnn_seeds": 1}),
}
ch = open_chapter(PROFILES, profile, seeds, device)
seeds, settings = ch.seeds, ch.settings
threshold = settings["threshold"]
LO_HI = ("", "_lo", "_hi")  # this chapter glues an interval as x, x_lo, x_hi
timings: dict[str, float] = {}
page_start = time.perf_counter()


def budget_text(b: dict[str, float], grid: list[float]) -> str:
    """A budget and its interval on the grid, in words (inf: not reached on the grid)."""
    def one(v: float) -> str:
        return f"{v:g}" if np.isfinite(v) else f"> {max(grid):g}"
    return f"{one(b['point'])} (interval {one(b['optimistic'])} to {one(b['conservative'])})"


# %% [markdown]
# ## The inner failure: how much diversity prevents it?
#
# We train on coin-diverse-v1 levels with a share alpha of coins away from the exit, for
# alpha from 0 to a quarter, **at one fixed training budget** (alpha = 0 is the
# coin-at-exit-v1 world itself, the world chapter 1 used before it moved to
# procedurally varied levels; this chapter moves in its own issue). A
# fixed budget matters: a harder training distribution may take longer to learn, so
# extra diversity can turn goal misgeneralization into *capability failure* rather than
# success (this sweep shows it below, and the claims at the end check it). So every
# outcome share is shown, not only the misbehaviour's. Each point is the mean over seeds
# of a policy's share of test episodes (coin anywhere), with a 95% t-interval over seeds.

# %%
t0 = time.perf_counter()
alpha_runs = run_sweep(alpha_cell, expand_grid(alpha=settings["alphas"], total_steps=[settings["alpha_steps"]],
                                               n_episodes=[settings["episodes"]]), seeds, n_jobs=2, progress=True)
timings["diversity sweep"] = time.perf_counter() - t0
alpha_summary = shares_summary(alpha_runs, "alpha", list(OUTCOMES) + COIN_COLUMNS)
alpha_budget = correction_budget(alpha_runs, "alpha", "inner misalignment", threshold)
alpha_budget_coin = correction_budget(alpha_runs, "alpha", "coin: exit without coin", threshold)
alpha_summary.pivot(index="alpha", columns="outcome", values="share")[list(OUTCOMES) + COIN_COLUMNS].round(3)


# %%
def share_curves(summary: pd.DataFrame, x: str, columns: list[str], ax, xlabel: str, symlog: float | None = None) -> None:
    """Lines of outcome shares against a correction share, with 95% bands over seeds."""
    for name in columns:
        part = summary[summary["outcome"] == name].sort_values(x)
        colour = OUTCOME_COLOURS.get(name.replace("coin: ", ""), None)
        ax.plot(part[x], part["share"], marker="o", label=name, color=colour)
        ax.fill_between(part[x], part["low"], part["high"], alpha=0.2, color=colour)
    if symlog is not None:
        ax.set_xscale("symlog", linthresh=symlog)
    ax.axhline(threshold, color="black", ls=":", lw=1)
    ax.set(xlabel=xlabel, ylabel="share of test episodes", ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.4))
share_curves(alpha_summary, "alpha", [o for o in OUTCOMES if o not in ("outer misalignment", "tampering failure")],
             ax1, "alpha: share of training levels with the coin away from the exit (symlog)", symlog=0.005)
ax1.set_title("Framing-1 outcomes of test episodes")
share_curves(alpha_summary, "alpha", COIN_COLUMNS, ax2, "alpha (symlog)", symlog=0.005)
ax2.set_title("What the agent reached")
fig.suptitle(f"Diversity sweep at {settings['alpha_steps']:,} training steps, {len(seeds)} seeds per alpha "
             f"(mean, 95% CI over seeds; dotted: threshold {threshold:g})", y=1.02)
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
a = alpha_summary.set_index(["alpha", "outcome"])
a_max = max(settings["alphas"])
glue("alpha_steps", f"{settings['alpha_steps']:,}")
glue("n_seeds", len(seeds))
glue("threshold", f"{threshold:.0%}")
glue_interval("inner_a0", a.loc[(0.0, "inner misalignment"), ["share", "low", "high"]], tolerance=0.1, fmt=".0%",
              suffixes=LO_HI)
glue("exitnocoin_a0", a.loc[(0.0, "coin: exit without coin"), "share"], tolerance=0.1, fmt=".0%")
glue("alpha_max", f"{a_max:g}")
for name, key in (("inner misalignment", "inner"), ("aligned", "aligned"), ("capability failure", "capfail"),
                  ("coin: exit without coin", "exitnocoin"), ("coin: coin", "coin")):
    glue_interval(f"{key}_amax", a.loc[(a_max, name), ["share", "low", "high"]], tolerance=0.1, fmt=".0%",
                  suffixes=LO_HI)
glue("alpha_budget", budget_text(alpha_budget, settings["alphas"]))
glue("alpha_budget_coin", budget_text(alpha_budget_coin, settings["alphas"]))
cap = alpha_summary[alpha_summary["outcome"] == "capability failure"].set_index("alpha")
cap_peak_alpha = float(cap["share"].idxmax())
glue("cap_peak_alpha", f"{cap_peak_alpha:g}")
glue_interval("cap_peak", cap.loc[cap_peak_alpha, ["share", "low", "high"]], tolerance=0.15, fmt=".0%",
              suffixes=LO_HI)
glue("capfail_a0", cap.loc[0.0, "share"], tolerance=0.15, fmt=".0%")
glue("neither_peak", a.loc[(cap_peak_alpha, "coin: neither"), "share"], tolerance=0.15, fmt=".0%")
glue("inner_peak", a.loc[(cap_peak_alpha, "inner misalignment"), "share"], tolerance=0.15, fmt=".0%")
aligned_gain = a.loc[(a_max, "aligned"), "share"] - a.loc[(0.0, "aligned"), "share"]
glue("aligned_gain", aligned_gain, tolerance=0.1, fmt="+.0%")
train_h = alpha_runs.groupby("alpha")["train_H"].mean()
glue("train_h_a0", train_h.loc[0.0], tolerance=0.05, fmt=".0%")
glue("train_h_amax", train_h.loc[a_max], tolerance=0.1, fmt=".0%")

# %% [markdown]
# **What the sweep shows.** With no diversity, {glue:text}`inner_a0` of test episodes
# are inner misalignment (95% CI {glue:text}`inner_a0_lo`–{glue:text}`inner_a0_hi`;
# {glue:text}`exitnocoin_a0` reach the exit without the coin). At alpha =
# {glue:text}`alpha_max`, after {glue:text}`alpha_steps` steps, the shares are: inner
# misalignment {glue:text}`inner_amax` ({glue:text}`inner_amax_lo`–{glue:text}`inner_amax_hi`),
# aligned {glue:text}`aligned_amax` ({glue:text}`aligned_amax_lo`–{glue:text}`aligned_amax_hi`),
# capability failure {glue:text}`capfail_amax` ({glue:text}`capfail_amax_lo`–{glue:text}`capfail_amax_hi`);
# by what was reached, exit without coin {glue:text}`exitnocoin_amax`
# ({glue:text}`exitnocoin_amax_lo`–{glue:text}`exitnocoin_amax_hi`) and coin
# {glue:text}`coin_amax` ({glue:text}`coin_amax_lo`–{glue:text}`coin_amax_hi`). The
# training success (mean H of the last training episodes) is {glue:text}`train_h_a0` at
# alpha = 0 and {glue:text}`train_h_amax` at the largest alpha: the diverse levels are
# harder, and this budget does not finish learning them (the coin-diverse-v1
# policies of chapters 3 and 4 take four times as many steps to become mostly aligned).
#
# The path between the two ends is not monotone, and it is the fixed-budget warning
# above in miniature. The capability-failure share peaks at alpha = {glue:text}`cap_peak_alpha`:
# {glue:text}`cap_peak` of test episodes (CI {glue:text}`cap_peak_lo`–{glue:text}`cap_peak_hi`,
# against {glue:text}`capfail_a0` without diversity), with {glue:text}`neither_peak`
# reaching neither coin nor exit, while inner misalignment falls to
# {glue:text}`inner_peak` there. A handful of diverse levels is enough to unsettle the
# exit habit when the coin is visible elsewhere, but not enough to teach the coin: the
# policy dithers. With more diverse levels the exit habit returns, and across the whole
# grid the aligned share gains only {glue:text}`aligned_gain`. A reader who looked only
# at the inner-misalignment line would call the smallest alphas a cure.
#
# The **correction budget** alpha\*, the smallest alpha from which the inner-misalignment
# share stays below {glue:text}`threshold`, is {glue:text}`alpha_budget` (the interval
# uses the seed-level 95% bounds instead of the mean). Judged by "exit without coin"
# instead, which does not depend on the competence classifier, it is
# {glue:text}`alpha_budget_coin`.
#
# **Compared with the literature.** Langosco et al. {cite}`langosco2022goal` report that
# randomizing the coin in a few percent of CoinRun levels largely removes the
# misgeneralization (a secondary summary; we have not verified their exact values), after
# 200M steps of an IMPALA CNN. Sadek et al. {cite}`sadek2025regret` sweep the share of
# disambiguating levels over several orders of magnitude and find that plain domain
# randomization keeps misgeneralizing at small shares while regret-based curricula cope
# better. Our sweep is far smaller (a 2×64 MLP, a million steps): at this budget, the
# figure is the comparison. Where our budget is larger than theirs, the difference is
# as much about training time as about data: a few diverse levels only teach the coin if
# the learner gets enough experience of them, which is exactly the interaction the
# fixed-budget warning at the start of this section is about.

# %% [markdown]
# ## The outer failure: how many episodes must be relabelled?
#
# In the checkpoint-v1 scenario the reward R pays 0.5 each time the agent steps onto the
# checkpoint tile and 1 at the exit, while H pays only for the exit. We correct a
# random share k of training episodes: in those, the learner receives H instead of R
# (`CorrectedRewardWorld`, a subclass of the gridworld that leaves its public behaviour
# unchanged; with k = 0 it is the plain world, which the tests check). Everything else
# (levels, seeds, budget of {glue:text}`k_steps` steps) is fixed.

# %%
t0 = time.perf_counter()
k_runs = run_sweep(reward_correction_cell, expand_grid(k=settings["ks"], total_steps=[settings["k_steps"]],
                                                       n_episodes=[settings["episodes"]]), seeds, n_jobs=2, progress=True)
timings["reward-correction sweep"] = time.perf_counter() - t0
k_summary = shares_summary(k_runs, "k", list(OUTCOMES))
k_budget = correction_budget(k_runs, "k", "outer misalignment", threshold)
fig, ax = plt.subplots(figsize=(8, 4.4))
share_curves(k_summary, "k", ["capability failure", "aligned", "outer misalignment"], ax,
             "k: share of training episodes paid by H instead of R")
ax.set_title(f"Checkpoint scenario, {settings['k_steps']:,} steps, {len(seeds)} seeds per k (95% CI over seeds)")
fig.tight_layout()
plt.show()
k_summary.pivot(index="k", columns="outcome", values="share")[list(OUTCOMES)].round(3)

# %% tags=["remove-cell"]
kk = k_summary.set_index(["k", "outcome"])
k_min = min(x for x in settings["ks"] if x > 0)
glue("k_steps", f"{settings['k_steps']:,}")
glue_interval("outer_k0", kk.loc[(0.0, "outer misalignment"), ["share", "low", "high"]], tolerance=0.15, fmt=".0%",
              suffixes=LO_HI)
glue("capfail_k0", kk.loc[(0.0, "capability failure"), "share"], tolerance=0.15, fmt=".0%")
glue("k_min", f"{k_min:g}")
glue("outer_kmin", kk.loc[(k_min, "outer misalignment"), "share"], tolerance=0.15, fmt=".0%")
glue("outer_kmin_hi", kk.loc[(k_min, "outer misalignment"), "high"], tolerance=0.15, fmt=".0%")
glue("aligned_kmin", kk.loc[(k_min, "aligned"), "share"], tolerance=0.15, fmt=".0%")
glue("k_budget", budget_text(k_budget, settings["ks"]))
# what a converged reward-maximiser would need: looping episodes vs exiting ones at k = 0 and the largest k
k0 = k_runs[k_runs["k"] == 0.0]
looping = k0[k0["outer misalignment"] > 0.5]
exiting = k_runs[k_runs["aligned"] > 0.5]
if len(looping) and len(exiting):
    k_indiff = indifference_share(looping["R"].mean(), looping["H"].mean(), exiting["R"].mean(), exiting["H"].mean())
else:
    k_indiff = float("nan")
glue("k_indiff", f"{k_indiff:.2f}" if np.isfinite(k_indiff) else "not computable (no looping or no exiting seed)")
glue("r_loop", f"{looping['R'].mean():.1f}" if len(looping) else "n/a")

# %% [markdown]
# **What the sweep shows.** Without correction, {glue:text}`outer_k0` of test episodes
# are outer misalignment (CI {glue:text}`outer_k0_lo`–{glue:text}`outer_k0_hi`); another
# {glue:text}`capfail_k0` are classed capability failures, mostly episodes that circle
# near the checkpoint in a way the competence test does not recognise as efficient goal
# pursuit, a reminder that at this budget the exploit is still being learned. Relabelling
# k = {glue:text}`k_min` of the training episodes brings outer misalignment to
# {glue:text}`outer_kmin` (upper bound {glue:text}`outer_kmin_hi`), with
# {glue:text}`aligned_kmin` aligned. The budget k\* (outer misalignment below
# {glue:text}`threshold` from there on) is {glue:text}`k_budget`.
#
# This is less than a naive calculation predicts. A reward-maximiser that cannot tell
# corrected episodes apart maximises (1 - k) R + k H; the looping policies earn an
# undiscounted R of {glue:text}`r_loop` per episode, so looping stays preferable until
# k ≈ {glue:text}`k_indiff`. The trained policies give up the loop much earlier because
# the loop is an exploit found *late* in training (at half this budget the checkpoint
# policies still simply exit): relabelling weakens the exploit's advantage exactly while
# it is being discovered. The correction budget is therefore a property of the training
# process, not only of the reward.

# %% [markdown]
# ## Which training levels caused the inner failure? Attribution checked by retraining
#
# The essay suggests finding the responsible datapoints with training-data attribution.
# We use **TracIn** {cite}`pruthi2020tracin`: the influence of a training level on a test
# quantity is the sum, over checkpoints saved during training, of the learning rate times
# the dot product of two gradients, the direction in which that level's data pushed the
# weights and the gradient of the test quantity. Influence functions
# {cite}`koh2017influence` assume a fixed loss minimised to an optimum, which PPO's
# moving, self-collected objective is not, and they are fragile in deep networks
# {cite}`basu2021fragile`; TracIn needs only the training path, which PPO checkpoints
# provide. A level's direction is the policy-gradient step its own episodes induce
# (advantage times log-probability gradient, replayed at each checkpoint); the test
# quantity is the log-probability of the final policy's misbehaving test trajectories
# (exit without the coin). The library's tests check the implementation on a small
# supervised problem where one training point alone decides a test prediction.
#
# To make single levels matter, each policy trains on a small bank of
# {glue:text}`attr_levels` levels. Ground truth comes from retraining, same seed, with
# the coins of the *m* top-scored levels moved away from the exit, against the same
# number of random levels.

# %%
t0 = time.perf_counter()
attr_runs = run_sweep(attribution_cell, [{"n_levels": settings["attr_levels"], "m_values": settings["attr_m"],
                                          "total_steps": settings["attr_steps"], "checkpoint_every": settings["attr_every"],
                                          "n_episodes": settings["episodes"]}], seeds, n_jobs=2, progress=True)
timings["attribution + retraining"] = time.perf_counter() - t0
misb = "coin: exit without coin"
base = attr_runs[attr_runs["method"] == "none"].set_index("seed")[misb]
rows = []
for (method, m), group in attr_runs[attr_runs["method"] != "none"].groupby(["method", "m"]):
    for seed, value in group.set_index("seed")[misb].items():
        rows.append({"method": method, "m": m, "seed": seed, "misbehaviour": value, "reduction": base[seed] - value})
attr_long = pd.DataFrame(rows)
paired = attr_long.pivot_table(index=["m", "seed"], columns="method", values="misbehaviour").reset_index()
paired["tracin minus random"] = paired["tracin"] - paired["random"]
diff = paired.groupby("m")["tracin minus random"].apply(lambda s: pd.Series(mean_ci(s.to_numpy()), index=["mean", "low", "high"])).unstack()

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.2), width_ratios=[1.4, 1])
plot_df = pd.concat([attr_long, pd.DataFrame({"method": "none", "m": 0, "seed": base.index, "misbehaviour": base.values})])
for method, colour in (("tracin", "#d62728"), ("random", "#7f7f7f")):
    part = pd.concat([plot_df[plot_df["method"] == "none"], plot_df[plot_df["method"] == method]])
    sns.lineplot(data=part, x="m", y="misbehaviour", errorbar=("ci", 95), marker="o", ax=ax1, color=colour,
                 label=f"{method} levels corrected")
ax1.set(xlabel=f"levels corrected (coin moved), out of {settings['attr_levels']}",
        ylabel="share of test episodes: exit without coin", ylim=(0, 1),
        title="Retraining after correcting top-TracIn vs random levels")
scores = np.array([s for s in attr_runs[attr_runs["method"] == "none"]["scores"]])
ranked = np.sort(scores, axis=1)[:, ::-1]
ax2.plot(np.arange(1, ranked.shape[1] + 1), (ranked / np.abs(ranked).max(axis=1, keepdims=True)).T, color="#d62728",
         alpha=0.4)
ax2.axhline(0, color="black", lw=1)
ax2.set(xlabel="training level, by rank", ylabel="TracIn score / largest |score|",
        title="TracIn scores of the training levels, one line per seed")
fig.tight_layout()
plt.show()
diff.round(3)

# %% tags=["remove-cell"]
glue("attr_levels", settings["attr_levels"])
glue("attr_steps", f"{settings['attr_steps']:,}")
glue("attr_base", mean_ci(base.to_numpy())[0], tolerance=0.1, fmt=".0%")
m_big = max(settings["attr_m"])
glue("attr_m", m_big)
at = attr_long.groupby(["method", "m"])["misbehaviour"].apply(lambda s: mean_ci(s.to_numpy(), bounds=(0, 1)))
for method in ("tracin", "random"):
    glue_interval(f"attr_{method}", at[(method, m_big)], tolerance=0.1, fmt=".0%", suffixes=LO_HI)
d_mean, d_lo, d_hi = diff.loc[m_big, ["mean", "low", "high"]]
glue_interval("attr_diff", (d_mean, d_lo, d_hi), tolerance=0.1, fmt="+.1%", suffixes=LO_HI)
attr_wins = bool(d_hi < 0)
attr_loses = bool(d_lo > 0)
attr_verdict = ("beats random correction: its interval lies below zero" if attr_wins else
                "does worse than random correction: its interval lies above zero" if attr_loses else
                "does not beat random correction: the interval includes zero")
glue("attr_verdict", attr_verdict)
reduction = attr_long[(attr_long["m"] == m_big)].groupby("method")["reduction"].apply(lambda s: mean_ci(s.to_numpy()))
glue("attr_red_tracin", reduction["tracin"][0], tolerance=0.1, fmt="+.1%")
glue("attr_red_random", reduction["random"][0], tolerance=0.1, fmt="+.1%")
glue("attr_share_m", m_big / settings["attr_levels"], fmt=".0%")

# %% [markdown]
# **What attribution achieves.** The original small-bank policies reach the exit without
# the coin in {glue:text}`attr_base` of test episodes. After correcting the
# {glue:text}`attr_m` top-scored levels ({glue:text}`attr_share_m` of the bank) and
# retraining, that share is {glue:text}`attr_tracin` (CI
# {glue:text}`attr_tracin_lo`–{glue:text}`attr_tracin_hi`); after correcting as many
# random levels it is {glue:text}`attr_random` ({glue:text}`attr_random_lo`–{glue:text}`attr_random_hi`).
# Paired by seed, TracIn minus random is {glue:text}`attr_diff` (CI
# {glue:text}`attr_diff_lo` to {glue:text}`attr_diff_hi`): attribution
# {glue:text}`attr_verdict`. The mean change from the uncorrected policy is
# {glue:text}`attr_red_tracin` for TracIn and {glue:text}`attr_red_random` for random
# levels (positive: less misbehaviour).
#
# Read the ground truth first: if neither correction moves the misbehaviour, this
# experiment cannot show attribution helping, whatever the scores. At this budget
# ({glue:text}`attr_steps` steps), moving even {glue:text}`attr_share_m` of the bank's
# coins barely changes what the retrained policies do on test levels, so the comparison
# is weak evidence either way; it is a limit of the budget we could afford, not a verdict
# on TracIn in general. The right panel shows the scores themselves: in coin-at-exit-v1
# every training level teaches the same lesson (the coin and the exit coincide), and no
# small set of levels stands out as the place where the exit habit was learned. That is
# what the essay's criterion expects of an inner failure: no few easily corrected
# datapoints carry it.

# %% [markdown]
# ## Inductive biases: same levels and rewards, other learners
#
# Finally the other cause. We keep coin-at-exit-v1's levels and rewards and change only the
# learner: the default MLP on the full grid, the same MLP on an egocentric 7×7 window,
# a small CNN, and the CNN with coordinate channels (CoordConv). CNNs train 20–40 times
# slower than the MLP on a CPU, so every variant here gets the same short budget of
# {glue:text}`ablation_steps` steps (enough for all of them to solve the training
# levels, see the training success column), and the CNNs get only
# {glue:text}`cnn_seeds` seeds; their intervals are correspondingly wide.

# %%
t0 = time.perf_counter()
mlps = [v for v in ABLATIONS if ABLATIONS[v][0] == "mlp"]
cnns = [v for v in ABLATIONS if ABLATIONS[v][0] != "mlp"]
abl = pd.concat([
    run_sweep(ablation_cell, expand_grid(variant=mlps, total_steps=[settings["ablation_steps"]],
                                         n_episodes=[settings["episodes"]]), seeds, n_jobs=2, progress=True),
    run_sweep(ablation_cell, expand_grid(variant=cnns, total_steps=[settings["ablation_steps"]],
                                         n_episodes=[settings["episodes"]]), seeds[: settings["cnn_seeds"]], n_jobs=2,
              progress=True)], ignore_index=True)
timings["inductive-bias ablation"] = time.perf_counter() - t0
abl_summary = shares_summary(abl, "variant", list(OUTCOMES))
abl_long = abl.melt(id_vars=["variant", "seed"], value_vars=list(OUTCOMES), var_name="outcome", value_name="share")
fig, ax = plt.subplots(figsize=(13, 4.2))
outcome_bars(abl_summary, "variant", ax, order=list(ABLATIONS),
             hue_order=["capability failure", "aligned", "inner misalignment"], per_seed=abl_long)
ax.set(xlabel="", title=f"coin-at-exit-v1, {settings['ablation_steps']:,} steps: test outcomes by learner "
                         "(mean, 95% CI over seeds; dots are seeds)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
abl_table = abl.groupby("variant").agg(seeds=("seed", "nunique"), train_success=("train_H", "mean"),
                                       train_seconds=("seconds", "mean"))
abl_table.join(abl_summary.pivot(index="variant", columns="outcome", values="share")[list(OUTCOMES)]).round(3)

# %% tags=["remove-cell"]
glue("ablation_steps", f"{settings['ablation_steps']:,}")
glue("cnn_seeds", settings["cnn_seeds"])
ab = abl_summary.set_index(["variant", "outcome"])
inner_by_variant = ab.xs("inner misalignment", level="outcome")
glue("abl_inner_min", inner_by_variant["share"].min(), tolerance=0.15, fmt=".0%")
glue("abl_inner_max", inner_by_variant["share"].max(), tolerance=0.15, fmt=".0%")
exit_by_variant = abl.groupby("variant")["coin: exit without coin"].mean()
glue("abl_exit_min", exit_by_variant.min(), tolerance=0.15, fmt=".0%")
glue("abl_exit_max", exit_by_variant.max(), tolerance=0.15, fmt=".0%")
glue("abl_aligned_max", ab.xs("aligned", level="outcome")["share"].max(), tolerance=0.15, fmt=".0%")
glue("abl_train_min", abl_table["train_success"].min(), tolerance=0.1, fmt=".0%")
cnn_speed = abl_table.loc[cnns, "train_seconds"].mean() / abl_table.loc["mlp (full grid)", "train_seconds"]
glue("cnn_slowdown", cnn_speed, tolerance=50.0, fmt=".0f")  # a wall-time ratio: informative, machine-dependent

# %% [markdown]
# **What the ablation shows.** Across the four learners, between
# {glue:text}`abl_exit_min` and {glue:text}`abl_exit_max` of test episodes end at the
# exit without the coin, and at most {glue:text}`abl_aligned_max` are aligned; the
# training success of every variant is at least {glue:text}`abl_train_min`. Changing the
# architecture or the observation does not change which goal is learned when the
# training data cannot tell the two apart: all four generalize toward the exit. (The
# split of those episodes between "inner misalignment" and "capability failure", from
# {glue:text}`abl_inner_min` to {glue:text}`abl_inner_max` inner, depends on how
# efficiently each learner walks after so short a training, which the competence test
# judges.) The CNNs cost about {glue:text}`cnn_slowdown` times the MLP's training time
# here. What the ablation does not show is an architecture with a bias *toward the
# coin*; finding one would lower the inner failure's correction budget, and the budget
# is therefore a property of learner and data together, as the essay says.

# %% [markdown]
# ## Verdicts: outer or inner, by correction budget
#
# Both budgets are shares of training episodes whose reward signal changes (for the
# diversity sweep, levels are drawn uniformly, so the share of levels is the share of
# episodes). The essay's criterion says: the smaller the budget, the more the failure
# was the reward's fault.

# %%
verdict = pd.DataFrame([
    {"failure": "coin-at-exit-v1 (Framing 1: inner)", "correction": "coin moved away from the exit",
     "budget on the grid": budget_text(alpha_budget, settings["alphas"]), "training steps": settings["alpha_steps"]},
    {"failure": "checkpoint-v1 (Framing 1: outer)", "correction": "episode paid by H instead of R",
     "budget on the grid": budget_text(k_budget, settings["ks"]), "training steps": settings["k_steps"]},
])
verdict["threshold"] = f"{threshold:.0%} of test episodes"
inner_b, outer_b = alpha_budget["point"], k_budget["point"]
separated_inner_larger = alpha_budget["optimistic"] > k_budget["conservative"]
separated_outer_larger = k_budget["optimistic"] > alpha_budget["conservative"]
comparison = ("the inner failure needs the larger correction (the budgets' intervals do not overlap)"
              if separated_inner_larger else
              "the outer failure needs the larger correction (the budgets' intervals do not overlap)"
              if separated_outer_larger else
              "the two budgets cannot be told apart at this resolution (their intervals overlap)")
verdict.style.hide(axis="index")

# %% tags=["remove-cell"]
glue("budget_comparison", comparison)

# %% [markdown]
# At the budgets and grids of this page, {glue:text}`budget_comparison`. The inner
# failure's budget is {glue:text}`alpha_budget`; the outer failure's is
# {glue:text}`k_budget`. Read with the essay's criterion, and with its caveat that both
# the reward and the learner contribute to every action, the page supports three
# statements. First, the budget is measurable and comes with an interval; it is a
# property of the reward, the learner and the training budget together (the
# checkpoint-v1's budget is far below what a converged reward-maximiser would need; the
# coin's depends on whether the learner has time to learn the diverse levels). Second,
# attribution by TracIn {glue:text}`attr_verdict` when asked which coin-at-exit-v1 levels
# to fix, consistent with a failure spread over the whole training distribution rather
# than over a few bad datapoints. Third, no architecture or observation we tried
# escapes the exit bias on its own, so for the coin the "inductive bias" that matters is
# shared by every learner here: the data simply never separate coin from exit.

# %% [markdown]
# ## Where this page's time went
#
# Trainings are cached on disk (key: scenario, settings, seed and the library's source),
# so a rerun is fast; the first, cold run of the published profile pays for every
# training. The reproducibility appendix reports the build's cold timings.

# %%
timings["total"] = time.perf_counter() - page_start
pd.Series(timings, name="seconds (this run)").round(1).to_frame()

# %% [markdown]
# ## Claims

# %%
claim(len(seeds) >= 10, "the published profile uses at least 10 seeds for every sweep but the CNN ablation")
claim(a.loc[(0.0, "coin: exit without coin"), "low"] > 0.5,
      "without diversity most test episodes reach the exit without the coin (CI above 50%)")
claim(a.loc[(a_max, "coin: exit without coin"), "share"] < a.loc[(0.0, "coin: exit without coin"), "share"],
      "the largest alpha reduces exit-without-coin relative to alpha = 0")
claim(cap.loc[cap_peak_alpha, "low"] > cap.loc[0.0, "high"],
      "some alpha > 0 raises capability failure above its alpha = 0 interval (diversity turns misbehaviour into "
      "incompetence at a fixed budget)")
claim(kk.loc[(0.0, "outer misalignment"), "low"] > threshold,
      "uncorrected checkpoint-v1 training yields outer misalignment above the threshold (CI)")
claim(not np.isfinite(k_indiff) or k_budget["point"] < k_indiff,
      "the measured outer budget k* is below the share a converged reward-maximiser would need")
claim(np.isfinite(k_budget["conservative"]), "some k on the grid prevents the outer failure, even conservatively")
claim(attr_wins == (d_hi < 0) and len(paired) >= 10 * len(settings["attr_m"]),
      "the attribution verdict is the one the paired interval over >= 10 seeds supports")
claim(exit_by_variant.min() > 0.5, "every learner variant mostly reaches the exit without the coin")
claim(comparison.startswith("the inner") == bool(separated_inner_larger),
      "the budget comparison printed is the one the intervals support")
check_claims()
