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
# a new one. Its experiment is a stand-in with a known answer (a synthetic policy whose
# episodes succeed at a fixed rate); the real chapters replace that one cell with a call
# into the `misalign` library.
#
# To fork it: copy the pair (`book/00_template.py` and `.ipynb`) to a new number and
# name, list the new file in `_toc.yml`, edit the `.py` in any editor or the `.ipynb` in
# Jupyter (jupytext keeps the two in sync), and run `make book`.

# %% [markdown]
# ## Parameters
#
# The build passes `profile="smoke"` for quick checks; the published pages use the
# defaults below. Leave `seeds` as `None` to take the profile's seeds.

# %% tags=["parameters"]
profile = "full"  # "full": published run; "smoke": quick pipeline check
seeds = None  # None: the profile's seeds; or a list of ints
device = "cpu"  # where tensors live (this stand-in needs numpy only)

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from misalign.claims import check_claims, claim, glue

PROFILES = {
    "full": {"n_seeds": 20, "episodes": 200, "n_boot": 5000},
    "smoke": {"n_seeds": 3, "episodes": 50, "n_boot": 500},
}
settings = PROFILES[profile]
if seeds is None:
    seeds = list(range(settings["n_seeds"]))
CI_LEVEL = 0.95

# %% [markdown]
# ## Experiment
#
# Each seed evaluates a policy for a number of episodes and reports the share it
# succeeded in. Here the "policy" is a coin with a known success rate, so the claims at
# the end can check the estimate against the truth. The uncertainty across seeds is a
# percentile bootstrap of the mean over seeds (seeded, so reruns give the same
# interval).

# %%
TRUE_SUCCESS_RATE = 0.7  # known only because this experiment is synthetic


def run_seed(seed: int, episodes: int) -> float:
    """Stand-in for "train and evaluate one policy": share of successes."""
    rng = np.random.default_rng(seed)
    return float(rng.binomial(1, TRUE_SUCCESS_RATE, size=episodes).mean())


def bootstrap_mean(values: np.ndarray, n_boot: int, level: float, seed: int = 0):
    """Mean with a percentile-bootstrap interval, and the resampled means."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(values), size=(n_boot, len(values)))
    resampled = values[rows].mean(axis=1)
    low, high = np.quantile(resampled, [(1 - level) / 2, (1 + level) / 2])
    return values.mean(), low, high, resampled


rates = [run_seed(s, settings["episodes"]) for s in seeds]
per_seed = pd.DataFrame({"seed": seeds, "success_rate": rates})
mean_success, ci_low, ci_high, boot_means = bootstrap_mean(
    per_seed["success_rate"].to_numpy(), settings["n_boot"], CI_LEVEL
)
per_seed["success_rate"].describe().to_frame().T.round(3)

# %% [markdown]
# ## Figure

# %%
sns.set_theme(style="whitegrid", context="notebook")
fig, (ax_seeds, ax_boot) = plt.subplots(
    1, 2, figsize=(10, 3.8), width_ratios=[1, 1.4]
)
sns.stripplot(
    data=per_seed, y="success_rate", ax=ax_seeds, size=6, jitter=0.15
)
ax_seeds.errorbar(
    0.35, mean_success,
    yerr=[[mean_success - ci_low], [ci_high - mean_success]],
    fmt="o", color="black", capsize=5, label=f"mean, {CI_LEVEL:.0%} CI",
)
ax_seeds.axhline(TRUE_SUCCESS_RATE, color="tab:red", ls="--", label="true rate")
ax_seeds.set(
    xlim=(-0.5, 0.7), xticks=[], ylabel="share of successful episodes",
    title=f"One dot per seed ({len(seeds)} seeds)",
)
ax_seeds.legend(loc="best", fontsize="small")
sns.histplot(boot_means, ax=ax_boot, bins=40, color="tab:blue")
for x in (ci_low, ci_high):
    ax_boot.axvline(x, color="black", ls=":")
ax_boot.axvline(TRUE_SUCCESS_RATE, color="tab:red", ls="--")
ax_boot.set(
    xlabel="mean success rate over seeds (bootstrap resamples)",
    ylabel="resamples",
    title=f"Bootstrap of the mean; dotted: {CI_LEVEL:.0%} interval",
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the numbers say
#
# The cell below glues each number the prose quotes; the text then pastes them, so the
# page always shows what this run computed. Each glued value also carries the tolerance
# within which a rebuild must reproduce it.

# %%
glue("n_seeds", len(seeds))
glue("episodes", settings["episodes"])
glue("ci_level", CI_LEVEL, fmt=".0%")
glue("true_rate", TRUE_SUCCESS_RATE)
glue("mean_success", mean_success, tolerance=0.01, fmt=".3f")
glue("ci_low", ci_low, tolerance=0.01, fmt=".3f")
glue("ci_high", ci_high, tolerance=0.01, fmt=".3f");

# %% [markdown]
# Across {glue:text}`n_seeds` seeds of {glue:text}`episodes` episodes each, the policy
# succeeded in a share of {glue:text}`mean_success` of its episodes, with a
# {glue:text}`ci_level` bootstrap interval from {glue:text}`ci_low` to
# {glue:text}`ci_high`. The interval contains the true rate of this synthetic policy,
# {glue:text}`true_rate`, as the claims below check.

# %% [markdown]
# ## Claims
#
# The last cell asserts what the prose above says. If a rerun no longer supports it,
# the build stops and names this chapter and cell.

# %%
claim(
    ci_low <= TRUE_SUCCESS_RATE <= ci_high,
    f"the {CI_LEVEL:.0%} interval [{ci_low:.3f}, {ci_high:.3f}] contains the true rate "
    f"{TRUE_SUCCESS_RATE}",
)
claim(
    len(seeds) >= 10 or profile != "full",
    "the published profile uses at least 10 seeds",
)
check_claims()
