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
# On Colab only: install the book's library from its repository (elsewhere `make venv`
# or environment.yml has installed it already).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "git+https://github.com/misalign-book/misalign"],
        check=True,
    )

# %% [markdown]
# # Fork a chapter: template
#
# Every chapter of this book has the same five parts, in this order:
# **parameters → experiment → figure → glued prose → claims**.
# This page is the smallest chapter that has all five, so that it can be copied to start
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

# %% tags=["parameters"]
profile = "full"  # "full": published run; "smoke": quick pipeline check
seeds = None  # None: the profile's seeds; or a list of ints
device = "cpu"  # the gridworld and the small networks run on the CPU

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns

from misalign.claims import check_claims, claim, glue
from misalign.behaviours import COIN_OUTCOMES
from misalign.rollouts import train_and_test
from misalign.stats import summarize
from misalign.sweeps import run_sweep

PROFILES = {
    "full": {"n_seeds": 10, "steps": 500_000, "episodes": 500},
    "smoke": {"n_seeds": 2, "steps": 100_000, "episodes": 100},
}
settings = PROFILES[profile]
if seeds is None:
    seeds = list(range(settings["n_seeds"]))
SCENARIO, OVERRIDES = "coin-at-exit", {}
STEPS = settings["steps"]

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
sns.set_theme(style="whitegrid", context="notebook")
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
glue("test_exit", pick.loc[("test", "exit without coin"), "mean"], tolerance=0.05, fmt=".0%")
glue("test_exit_low", pick.loc[("test", "exit without coin"), "low"], tolerance=0.05, fmt=".0%")
glue("test_exit_high", pick.loc[("test", "exit without coin"), "high"], tolerance=0.05, fmt=".0%")
glue("test_coin", pick.loc[("test", "coin"), "mean"], tolerance=0.05, fmt=".0%");

# %% [markdown]
# Trained for {glue:text}`steps` steps, the {glue:text}`n_seeds` policies took the coin
# in {glue:text}`train_coin` of training-distribution episodes. On test levels, where the
# coin is anywhere, they walked out of the exit without it in {glue:text}`test_exit`
# of episodes (95% interval over seeds {glue:text}`test_exit_low` to
# {glue:text}`test_exit_high`) and took the coin in only {glue:text}`test_coin`: the
# policies learned "go to the exit", a goal that earned full reward in training. Chapter
# 1 names this outcome and separates it from the others.

# %% [markdown]
# ## Claims
#
# The last cell asserts what the prose above says. If a rerun no longer supports it,
# the build stops and names this chapter and cell.

# %%
test_exit = pick.loc[("test", "exit without coin")]
test_coin = pick.loc[("test", "coin")]
claim(pick.loc[("train", "coin"), "mean"] >= 0.9 or profile != "full",
      "the policies get the coin in at least 90% of training-distribution episodes")
claim(test_exit["low"] > test_coin["high"] or profile != "full",
      "on test levels, exiting without the coin is more frequent than taking it (disjoint 95% intervals)")
claim(len(seeds) >= 10 or profile != "full", "the published profile uses at least 10 seeds")
check_claims()
