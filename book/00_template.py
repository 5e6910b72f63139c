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
# # Fork a chapter: template
#
# Every chapter of this book has the same six parts, in this order:
# **parameters → hypotheses → experiment → figure → verdicts and glued prose → claims**.
# This page is the smallest chapter that has all six, so that it can be copied to start
# a new one. Its experiment is real and small: train a policy with PPO on the
# *coin-at-exit* gridworld (the coin always lies in front of the exit door during
# training) for a few seconds per seed, then count what it does on test levels where
# the coin can be anywhere.
#
# To fork it: copy the pair (`book/00_template.py` and `.ipynb`) to a new number and
# name, list the new file in `_toc.yml`, edit the `.py` in any editor or the `.ipynb` in
# Jupyter (jupytext keeps the two in sync), and run `make book`. The one-line changes
# worth trying first: `SCENARIO = "coin-diverse"` with `OVERRIDES = {"alpha": 0.25}`, or
# a larger `STEPS`.

# %% [markdown]
# ## Parameters
#
# The build passes `profile="smoke"` for quick checks; the published pages use the
# defaults below. Leave `seeds` as `None` to take the profile's seeds.
#
# The next cell declares the profiles and opens the chapter with `open_chapter`, which
# checks these three parameters (an unknown profile or a bad list of seeds stops here,
# with the accepted values) and sets the figure theme. A profile also decides whether
# the claims at the end must hold: the published profile enforces them; the smoke
# profile, whose budgets are too small to support the prose, only reports them.

# %% tags=["parameters"]
profile = "full"  # "full": published run; "smoke": quick pipeline check
seeds = None  # None: the profile's seeds; or a list of ints
device = "cpu"  # the gridworld and the small networks run on the CPU

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns
from misalign.behaviours import COIN_OUTCOMES
from misalign.chapter import Profile, confirm_profile, open_chapter
from misalign.claims import chapter_name, check_claims, claim, glue, glue_interval
from misalign.confirm import confirmation, glue_verdicts
from misalign.hypotheses import Hypothesis, Preregistration, evaluate
from misalign.rollouts import train_and_test
from misalign.stats import summarize
from misalign.sweeps import run_sweep

FULL = Profile(n_seeds=10, settings={"steps": 500_000, "episodes": 500})
PROFILES = {
    "full": FULL,
    "confirm": confirm_profile(FULL),  # the same run on seeds 1000-1009 (make confirm)
    "smoke": Profile(n_seeds=2, enforce_claims=False, settings={"steps": 100_000, "episodes": 100}),
}
ch = open_chapter(PROFILES, profile, seeds, device)
seeds, settings = ch.seeds, ch.settings
SCENARIO, OVERRIDES = "coin-at-exit", {}
STEPS = settings["steps"]

# %% [markdown]
# ## Hypotheses, declared before any computation
#
# What the experiment is expected to show is written down as data before it runs: each
# hypothesis names the per-seed quantity it is about, the direction, the test and the
# error rate, and the family is corrected with Holm. The published run tests them on the
# profile's seeds; `make confirm` tests the same table on fresh seeds, and the text below
# says whether every verdict held.

# %%
HYPOTHESES = Preregistration([
    Hypothesis("H1", "the policies collect the coin in more than 90% of training-distribution episodes",
               quantity="train coin", direction="greater", test="sign", null=0.9),
    Hypothesis("H2", "on test levels, a policy exits without the coin more often than it takes the coin",
               quantity="test exit minus coin", direction="greater", test="sign", null=0.0),
])
HYPOTHESES.table().style.hide(axis="index")  # a Styler: statements are shown whole, not cut at 50 characters

# %% [markdown]
# ## Experiment
#
# One sweep cell trains a policy for `STEPS` environment steps on the scenario's
# training levels and plays it once on each of `episodes` test levels. Each test episode
# ends in one of three ways: the agent took the coin, it walked out of the exit without
# the coin, or neither happened before the time limit. Sweeps run in parallel processes
# and are cached on disk, so a rerun (or a later chapter with the same settings) reuses
# finished trainings. The unit of replication is the seed: intervals are 95% t-intervals
# over seeds.

# %%
long = run_sweep(  # one row per seed, split and outcome
    train_and_test,
    [{"scenario": SCENARIO, "total_steps": STEPS, "n_episodes": settings["episodes"], **OVERRIDES}],
    seeds, progress=True,
)
shares = summarize(long, "share", ["split", "outcome"], bounds=(0.0, 1.0))
shares.round(3)

# %% [markdown]
# ## Figure

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
sns.barplot(data=long, x="outcome", y="share", hue="split", order=list(COIN_OUTCOMES), errorbar=("ci", 95),
            ax=ax, palette=["#9bb7d4", "#1e6edc"])
sns.stripplot(data=long, x="outcome", y="share", hue="split", order=list(COIN_OUTCOMES), dodge=True, ax=ax,
              palette=["#44546a", "#0b2f66"], size=4, legend=False)
ax.set(ylim=(0, 1), xlabel="how the episode ended", ylabel="share of episodes",
       title=f"{SCENARIO}: {len(seeds)} seeds, bars = mean with 95% CI, dots = seeds")
ax.legend(title="levels")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Verdicts
#
# Each hypothesis is tested on the per-seed values (the seed is the unit of replication).

# %%
per_seed = long.pivot_table(index="seed", columns=["split", "outcome"], values="share")
verdicts = evaluate(HYPOTHESES, {
    "train coin": per_seed[("train", "coin")],
    "test exit minus coin": per_seed[("test", "exit without coin")] - per_seed[("test", "coin")],
})
published = glue_verdicts(verdicts, seeds)
glue("confirm_status", "this is the confirm run" if ch.profile_name == "confirm"
     else confirmation(chapter_name(), published))
shown = ["id", "statement", "n", "estimand", "estimate", "low", "high", "p_holm", "verdict"]
verdicts[shown].style.hide(axis="index").format(precision=4)

# %% [markdown]
# ## What the numbers say
#
# The cell below glues each number the prose quotes; the text then pastes them, so the
# page always shows what this run computed. Each glued value also carries the tolerance
# within which a rebuild must reproduce it.

# %%
pick = shares.set_index(["split", "outcome"])
glue("n_seeds", len(seeds))
glue("steps", f"{STEPS:,}")
glue("episodes", settings["episodes"])
glue("train_coin", pick.loc[("train", "coin"), "mean"], tolerance=0.02, fmt=".0%")
glue_interval("test_exit", pick.loc[("test", "exit without coin"), ["mean", "low", "high"]],
              tolerance=0.05, fmt=".0%")
glue("test_coin", pick.loc[("test", "coin"), "mean"], tolerance=0.05, fmt=".0%");

# %% [markdown]
# Trained for {glue:text}`steps` steps, the {glue:text}`n_seeds` policies took the coin
# in {glue:text}`train_coin` of training-distribution episodes. On test levels, where the
# coin is anywhere, they walked out of the exit without it in {glue:text}`test_exit`
# of episodes (95% interval over seeds {glue:text}`test_exit_low` to
# {glue:text}`test_exit_high`) and took the coin in only {glue:text}`test_coin`: the
# policies learned "go to the exit", a goal that earned full reward in training. Chapter
# 1 names this outcome and separates it from the others.
#
# Pre-registered on seeds {glue:text}`hypothesis_seeds`: H1 is {glue:text}`verdict_H1`
# and H2 is {glue:text}`verdict_H2` (sign tests, Holm-corrected). Confirmation on fresh
# seeds (`make confirm`): {glue:text}`confirm_status`.

# %% [markdown]
# ## Claims
#
# The last cell asserts what the prose above says. If a rerun no longer supports it,
# the build stops and names this chapter and cell.

# %%
test_exit = pick.loc[("test", "exit without coin")]
test_coin = pick.loc[("test", "coin")]
claim(pick.loc[("train", "coin"), "mean"] >= 0.9,
      "the policies get the coin in at least 90% of training-distribution episodes")
claim(test_exit["low"] > test_coin["high"],
      "on test levels, exiting without the coin is more frequent than taking it (disjoint 95% intervals)")
check_claims()
