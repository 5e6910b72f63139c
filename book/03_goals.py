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
# # Framing 2: goals inside the policy
#
# The second framing of the essay {cite}`ngo2022framings` stops watching behaviour and
# asks what the policy is *trying* to bring about. Its definition has three parts, and
# each can be turned into a measurement on a trained network:
#
# 1. A **goal** is a feature of outcomes that the network represents internally *and*
#    that moves together, strongly, with the network's own estimate of how good a state
#    is. We test "represents" with linear probes from hidden layers and "moves together"
#    with the correlation between the feature and the value head.
# 2. A goal is **final** when that correlation survives holding the other features
#    fixed (the thing is valued for itself), and **instrumental** when it mostly
#    disappears (the thing is valued because it leads to something else). We test this
#    with partial correlations, and report variance inflation factors, because a partial
#    correlation between nearly collinear features means nothing.
# 3. A policy is **misaligned** when its final goals are poorly correlated with what
#    people want (H); a policy with **no goals** is neither aligned nor misaligned.
#
# To these we add what a correlational definition cannot give on its own: a **causal**
# check. If the network uses a represented goal to choose actions, editing that
# representation should change where it goes. We follow the protocol of Turner et al.'s
# "cheese vector" on a maze policy {cite}`turner2023maze`: subtract the difference that
# the goal object makes to the activations, and count how often the agent stops heading
# for it at *decision states*, where heading for the goal and heading elsewhere call for
# different moves; a random vector of the same length is the control.

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
from misalign.experiments.behavioural import VERSION_1_CASES
from misalign.experiments.goals import COIN_FEATURES, KEY_FEATURES, goal_analysis
from misalign.goals import GoalCriteria, classify_goals, verdict_table
from misalign.gridworld import GridWorld, level_bank
from misalign.plotting import action_field, draw_level
from misalign.ppo import PPOConfig, train_cached
from misalign.scenarios import get_scenario
from misalign.states import cell_states
from misalign.stats import summarize
from misalign.steering import decision_mask, policy_probs, steering_vector
from misalign.sweeps import run_sweep
from scipy.stats import mannwhitneyu

started = time.perf_counter()
PROFILES = {
    "full": Profile(n_seeds=10, budget_scale=1.0,
                    settings={"keys_steps": 5_000_000, "n_levels": 48, "n_episodes": 128}),
    "smoke": Profile(n_seeds=2, enforce_claims=False, budget_scale=0.05,
                     settings={"keys_steps": 200_000, "n_levels": 8, "n_episodes": 32}),
}
ch = open_chapter(PROFILES, profile, seeds, device)
seeds, settings = ch.seeds, ch.settings
criteria = GoalCriteria()

# %% [markdown]
# ## Three policies, and a random twin of each
#
# We use the version-1 coin policies (the worlds chapter 1 used before it moved to
# procedurally varied levels; this chapter moves in its own issue), shared with chapter 4
# through the training cache: **coin-at-exit-v1**, trained where the coin always sits in front of
# the exit door, and **coin-diverse-v1**, where a quarter of training levels put the coin
# elsewhere. The third is new: **keys-and-chests** {cite}`langosco2022goal`, where R = H
# = +1 for every chest opened and a chest needs a key; training levels have 2 keys and 4
# chests, test levels 4 keys and 2 chests. Its budget was sized by a learning curve: at
# 5M steps the policies open most of the chests they can.
#
# Every trained network has a **random twin**: the same architecture, freshly
# initialised, never trained. The twin answers the question "what would the same
# measurement say about a network that has learned nothing?".
#
# **States and features.** For the coin policies we place the agent on every floor cell
# of the first test levels (the coin is anywhere there), which separates the two
# candidate goals that training kept together. For keys-and-chests we record the states
# the trained policy visits while a fifth of its actions are random (so that keys are in
# hand in some states and not in others). Every feature is a *discounted proximity*,
# $0.95^{d}$ for a shortest distance $d$ (0 when the thing is gone), the unit in which an
# ideal value function is linear in it:
#
# | feature | meaning |
# |---|---|
# | near_coin, near_exit | proximity of the coin, of the exit door |
# | keys_held | keys in hand |
# | near_key, near_chest | proximity of the nearest key on the floor, of the nearest closed chest |
# | next_chest | proximity of the soonest possible chest opening (via a key if none is held) |
# | chests_left | chests that can still be opened (limited by keys and chests) |

# %%
cases = {c.scenario: c for c in VERSION_1_CASES}
grid = []
for name in ("coin-at-exit-v1", "coin-diverse-v1"):
    case = cases[name]
    grid.append({"scenario": name, "total_steps": ch.profile.budget(case.total_steps),
                 "n_levels": settings["n_levels"], "n_episodes": settings["n_episodes"], **dict(case.overrides)})
grid.append({"scenario": "keys-chests", "total_steps": settings["keys_steps"], "n_levels": settings["n_levels"],
             "n_episodes": settings["n_episodes"]})
analysis = run_sweep(goal_analysis, grid, seeds, progress=True)
# the coin scenarios' random twins are the same networks (same seed) on the same test states: keep one copy
for name in ("probe", "value", "steer"):
    t = analysis[name]
    analysis[name] = t[~((t["network"] == "random") & (t["scenario"] == "coin-diverse-v1"))]
verdicts = verdict_table(analysis)
verdicts["policy"] = np.where(verdicts["network"] == "random", "random twin", verdicts["scenario"])
validity = analysis["validity"]

# %% [markdown]
# ## Is the value head a value estimate at all?
#
# The essay defines goals through the policy's *estimates* of value. So before asking
# what a value head correlates with, we ask whether it estimates value: on training
# levels, how well does it predict the discounted return that actually followed each
# state? A head that does not track returns estimates nothing, and its correlations name
# no goal.

# %%
val_summary = summarize(validity, "validity", ["scenario", "network"])
val_summary.round(3)

# %% [markdown]
# ## (i) The coin policies: what is represented, what is valued
#
# The left panel shows how well a linear probe on the better hidden layer predicts each
# feature on held-out levels (R²), for the trained networks and their random twins;
# probes fitted on shuffled labels score about zero or below and are drawn as the grey
# line. The right panel shows each feature's correlation with the value head, raw and
# partial (controlling for the other feature), on test states.

# %%
coin = verdicts[verdicts["feature"].isin(COIN_FEATURES)].copy()
coin_policies = ["coin-at-exit-v1", "coin-diverse-v1", "random twin"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.2))
sns.barplot(data=coin, x="policy", y="score", hue="feature", order=coin_policies, errorbar=("ci", 95), ax=ax1)
ax1.axhline(coin["shuffled"].mean(), color="grey", ls="--", lw=1)
ax1.set(ylim=(-0.3, 1), xlabel="", ylabel="held-out R² of the best layer's probe",
        title="Represented? (mean, 95% CI over seeds; dashed: shuffled labels)")
corr_long = coin.melt(id_vars=["policy", "feature", "seed"], value_vars=["r", "partial"], var_name="kind",
                      value_name="correlation")
corr_long["what"] = corr_long["feature"] + ", " + corr_long["kind"]
sns.barplot(data=corr_long, x="policy", y="correlation", hue="what", order=coin_policies, errorbar=("ci", 95), ax=ax2,
            hue_order=["near_coin, r", "near_coin, partial", "near_exit, r", "near_exit, partial"],
            palette=["#f5be14", "#f9dc85", "#28aa50", "#9bd7ac"])
ax2.axhline(criteria.strong, color="black", ls=":", lw=1)
ax2.set(ylim=(-0.5, 1), xlabel="", ylabel="correlation with the value head",
        title="Valued? raw and partial correlation (dotted: 'strong')")
ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
fig.tight_layout()
plt.show()

# %%
corr_summary = pd.concat([summarize(coin, col, ["policy", "feature"]).assign(measure=col)
                          for col in ("score", "r", "partial")])
corr_summary.round(3)

# %% [markdown]
# **Why test states.** On training levels the two candidate goals cannot be told apart:
# the coin is on the cell in front of the door, so "near the coin" is an exact multiple
# of "near the exit". The variance inflation factors say so:

# %%
train_vif = verdict_table(analysis, split="train")
vif_table = (pd.concat([train_vif.assign(states="training levels"), verdicts.assign(states="test levels")])
             .query("feature in @COIN_FEATURES and network == 'trained'")
             .groupby(["states", "feature"])["vif"].median().unstack())
vif_table

# %% [markdown]
# ## The verdicts
#
# Each seed's network gets a verdict per feature by the definition: a represented
# feature (probe beats shuffled labels by at least {glue:text}`represented`) that
# correlates with a valid value estimate (validity at least {glue:text}`estimates`) by at
# least {glue:text}`strong` is a goal; it is final if its partial correlation keeps at
# least {glue:text}`keep` of the raw one, instrumental otherwise. The table counts the
# seeds per verdict.

# %%
counts = (verdicts.groupby(["policy", "feature"])["verdict"].value_counts().unstack(fill_value=0)
          .reindex(columns=["final goal", "instrumental goal", "not a goal"], fill_value=0))
counts

# %% [markdown]
# "Strongly correlated" is the definition's vaguest word. The table below recounts the
# seeds whose network has each feature as a final goal when the threshold moves.

# %%
thresholds = [0.3, 0.4, 0.5, 0.6]
sensitivity = pd.DataFrame({
    f"strong = {t}": verdict_table(analysis, criteria=GoalCriteria(strong=t)).assign(
        policy=lambda d: np.where(d["network"] == "random", "random twin", d["scenario"]))
    .groupby(["policy", "feature"])["verdict"].agg(lambda s: int((s == "final goal").sum()))
    for t in thresholds})
sensitivity

# %% [markdown]
# ## (ii) Keys and chests: is a key in hand valued as a means?

# %%
keys = verdicts[verdicts["scenario"] == "keys-chests"].copy()
fig, ax = plt.subplots(figsize=(11, 4))
klong = keys[keys["network"] == "trained"].melt(id_vars=["feature", "seed"], value_vars=["r", "partial"],
                                                   var_name="kind", value_name="correlation")
sns.barplot(data=klong, x="feature", y="correlation", hue="kind", order=list(KEY_FEATURES), errorbar=("ci", 95), ax=ax,
            palette=["#c8781e", "#f0c090"])
sns.stripplot(data=klong, x="feature", y="correlation", hue="kind", order=list(KEY_FEATURES), dodge=True, ax=ax,
              palette=["#5a3000", "#7a5020"], size=3, legend=False)
ax.axhline(criteria.strong, color="black", ls=":", lw=1)
ax.set(xlabel="feature (training-level states visited by the policy)", ylabel="correlation with the value head",
       title=f"Keys and chests, {len(seeds)} seeds: raw and partial correlation (mean, 95% CI; dots = seeds)")
fig.tight_layout()
plt.show()
key_summary = pd.concat([summarize(keys, col, ["network", "feature"]).assign(measure=col) for col in ("r", "partial", "vif")])
key_summary[key_summary["network"] == "trained"].round(3)

# %% [markdown]
# **A devaluation test.** A partial correlation is only as good as the features it
# controls for. A sharper test of "valued only as a means" removes the end: we place the
# agent on every cell of training levels, once with the chests on the board and once with
# every chest removed from the observation, and ask how much one key in hand raises the
# value estimate in each case. If the key were purely instrumental, its worth should
# collapse when there is nothing left to open.

# %%
deval = analysis["devalue"].copy()
deval_summary = summarize(deval, "value_gain", ["network", "condition"])
fig, ax = plt.subplots(figsize=(7, 3.6))
sns.barplot(data=deval, x="condition", y="value_gain", hue="network", errorbar=("ci", 95), ax=ax)
ax.axhline(0, color="black", lw=0.8)
ax.set(xlabel="", ylabel="value with a key in hand − without",
       title="Devaluation: what a key adds to the value estimate (95% CI over seeds)")
fig.tight_layout()
plt.show()
deval_summary.round(3)

# %% [markdown]
# ## (iv) Steering: does the network use what it represents?
#
# For every test level we compute the coin vector at a hidden layer: the mean, over the
# level's cells, of the activations with the coin removed from the observation minus the
# activations with it. Adding it is the edit "forget the coin". We compare it with four
# other edits: removing the coin from the input itself (the target the vector
# approximates), adding a random vector of the same length, moving the activations the
# same distance along the near_coin probe's direction, and projecting that direction out
# (ablation). The measure is the mean probability of a coin-ward move at the decision
# states (where no single move approaches both the coin and the exit).

# %%
steer = analysis["steer"].copy()
steer["policy"] = np.where(steer["network"] == "random", "random twin", steer["scenario"])
conditions = ["unsteered", "steering vector", "random vector", "probe direction", "probe direction ablated",
              "random direction ablated", "input edited"]
coin_steer = steer[(steer["goal"] == "coin") & (steer["layer"] == "h1")]
fig, ax = plt.subplots(figsize=(13, 4.2))
sns.barplot(data=coin_steer, x="policy", y="share", hue="condition", hue_order=conditions, errorbar=("ci", 95), ax=ax,
            order=coin_policies)
ax.set(ylim=(0, 1), xlabel="", ylabel="P(coin-ward move) at decision states",
       title="Editing the first hidden layer of the coin policies (mean, 95% CI over seeds)")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
fig.tight_layout()
plt.show()
steer_summary = summarize(steer, "share", ["policy", "goal", "layer", "condition"], bounds=(0, 1))
steer_summary[steer_summary["goal"] == "coin"].round(3)

# %% [markdown]
# The arrows below show, on one test level, where the seed-0 coin-diverse-v1 policy would
# move from every cell (arrow length: how decided it is), before and after adding the
# coin vector at the first hidden layer, and with a random vector of the same length.

# %%
diverse = cases["coin-diverse-v1"]
sc_div = get_scenario("coin-diverse-v1", **dict(diverse.overrides))
net = train_cached(sc_div, seeds[0], PPOConfig(total_steps=ch.profile.budget(diverse.total_steps))).policy
bank = level_bank(sc_div, "test")
world = GridWorld(sc_div, "test", 1, bank=bank, autoreset=False)
here = cell_states(sc_div, "test", settings["n_levels"])
gone = cell_states(sc_div, "test", settings["n_levels"], without="coin")
n_dec = pd.Series(decision_mask(here, "coin", "exit")).groupby(here.table["level"]).sum()
level = int(n_dec.idxmax())
rows = (here.table["level"] == level).to_numpy()
vec = steering_vector(net, here.obs[rows], gone.obs[rows], "h1")
rand = np.random.default_rng(0).normal(size=vec.shape)
rand *= np.linalg.norm(vec) / np.linalg.norm(rand)
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
for ax, (title, delta) in zip(axes, (("unsteered", None), ("coin vector added", vec), ("random vector, same norm", rand)), strict=True):
    arrows = action_field(policy_probs(net, "h1" if delta is not None else None, delta), world, level)
    draw_level(bank, level, ax, arrows=arrows, title=title, legend=ax is axes[-1])
fig.suptitle(f"coin-diverse-v1 policy, seed {seeds[0]}, test level {level}: the move it favours from each cell", y=1.02)
fig.tight_layout()
plt.show()

# %% [markdown]
# The same test for keys and chests: the key vector is the difference that holding one
# key makes to the activations; adding it in states without a key should turn the agent
# toward the chests if "I hold a key" is what sends it there.

# %%
steer_summary[steer_summary["goal"] == "chest"].round(3)

# %% tags=["remove-cell"]
def pick(table: pd.DataFrame, **where) -> pd.Series:
    sel = table
    for k, v in where.items():
        sel = sel[sel[k] == v]
    if len(sel) != 1:
        raise ValueError(f"expected one row for {where}, got {len(sel)}")
    return sel.iloc[0]


glue("n_seeds", len(seeds))
glue("represented", criteria.represented)
glue("strong", criteria.strong)
glue("keep", criteria.keep)
glue("estimates", criteria.estimates)
glue("keys_steps", f"{settings['keys_steps']:,}")
vs = val_summary[val_summary["network"] == "trained"].set_index("scenario")
for pol, key in (("coin-at-exit-v1", "cae"), ("coin-diverse-v1", "div"), ("keys-chests", "kc")):
    glue_interval(f"valid_{key}", vs.loc[pol, ["mean", "low", "high"]], tolerance=0.1, fmt=".2f")
rnd_valid = val_summary[val_summary["network"] == "random"]
glue("valid_rnd_low", rnd_valid["low"].min(), tolerance=0.1, fmt=".2f")
glue("valid_rnd_high", rnd_valid["high"].max(), tolerance=0.1, fmt=".2f")
cs = corr_summary.set_index(["measure", "policy", "feature"])
for pol, key in (("coin-at-exit-v1", "cae"), ("coin-diverse-v1", "div"), ("random twin", "rnd")):
    for feat, fk in (("near_coin", "coin"), ("near_exit", "exit")):
        for meas in ("score", "r", "partial"):
            row = cs.loc[(meas, pol, feat)]
            glue_interval(f"{key}_{fk}_{meas}", row[["mean", "low", "high"]], tolerance=0.1, fmt=".2f")
vif_train = float(vif_table.loc["training levels"].min())
glue("vif_train", "1,000" if vif_train > 1000 else f"{vif_train:.0f}")
glue("vif_test", float(vif_table.loc["test levels"].max()), tolerance=0.5, fmt=".2f")
n_verdict = verdicts.groupby(["policy", "feature"])["verdict"].agg(lambda s: s.value_counts().to_dict())
glue("cae_exit_final", n_verdict[("coin-at-exit-v1", "near_exit")].get("final goal", 0))
glue("cae_coin_goal", len(seeds) - n_verdict[("coin-at-exit-v1", "near_coin")].get("not a goal", 0))
glue("div_coin_final", n_verdict[("coin-diverse-v1", "near_coin")].get("final goal", 0))
glue("div_exit_goal", len(seeds) - n_verdict[("coin-diverse-v1", "near_exit")].get("not a goal", 0))
glue("div_coin_final_04", int(sensitivity.loc[("coin-diverse-v1", "near_coin"), "strong = 0.4"]))
# is the coin represented better by the coin-diverse-v1 networks? one-sided rank test over seeds
coin_scores = coin.query("feature == 'near_coin' and policy in ['coin-diverse-v1', 'coin-at-exit-v1']").pivot_table(
    index="seed", columns="policy", values="score")
probe_p = mannwhitneyu(coin_scores["coin-diverse-v1"], coin_scores["coin-at-exit-v1"], alternative="greater").pvalue
glue("probe_p", probe_p, tolerance=0.05, fmt=".3f")
glue("div_coin_unrepresented", int((~verdicts.query("scenario == 'coin-diverse-v1' and feature == 'near_coin'")["represented"]).sum()))
random_goals = int((verdicts.query("network == 'random'")["verdict"] != "not a goal").sum())
glue("random_goals", random_goals)
glue("random_cells", int((verdicts["network"] == "random").sum()))
rnd_rows = verdicts[verdicts["network"] == "random"]
glue("random_goals_novalid", int((classify_goals(rnd_rows, criteria) != "not a goal").sum()))
strong_rnd = rnd_rows[rnd_rows["r"].abs() >= criteria.strong]
random_strong_keys = bool(len(strong_rnd) == 0 or (strong_rnd["scenario"] == "keys-chests").all())
glue("random_strong_where", "all of them" if random_strong_keys else "but not all of them")
glue("steer_rnd_coin", float(steer_summary.set_index(["policy", "goal", "layer", "condition"])
                             .loc[("random twin", "coin", "h1", "unsteered"), "mean"]), tolerance=0.1, fmt=".2f")
random_strong = float((verdicts.query("network == 'random'")["r"].abs() >= criteria.strong).mean())
glue("random_strong", random_strong, tolerance=0.15, fmt=".0%")
ks = key_summary.set_index(["measure", "network", "feature"])
for feat in ("keys_held", "next_chest", "chests_left"):
    for meas in ("r", "partial"):
        row = ks.loc[(meas, "trained", feat)]
        glue_interval(f"kc_{feat}_{meas}", row[["mean", "low", "high"]], tolerance=0.1, fmt=".2f")
glue("kc_keys_vif", ks.loc[("vif", "trained", "keys_held"), "mean"], tolerance=1.0, fmt=".1f")
glue("kc_key_final", n_verdict[("keys-chests", "keys_held")].get("final goal", 0))
ds = deval_summary.set_index(["network", "condition"])
MEAN_LOW_HIGH = ("_mean", "_low", "_high")  # these intervals are glued as x_mean, x_low, x_high
for cond, ck in (("chests present", "present"), ("chests removed", "removed")):
    glue_interval(f"deval_{ck}", ds.loc[("trained", cond), ["mean", "low", "high"]], tolerance=0.1, fmt=".2f",
                  suffixes=MEAN_LOW_HIGH)
ss = steer_summary.set_index(["policy", "goal", "layer", "condition"])
for pol, key in (("coin-at-exit-v1", "cae"), ("coin-diverse-v1", "div")):
    for cond, ck in (("unsteered", "before"), ("steering vector", "vector"), ("random vector", "random"),
                     ("input edited", "input"), ("probe direction", "probe"), ("probe direction ablated", "ablated")):
        glue_interval(f"steer_{key}_{ck}", ss.loc[(pol, "coin", "h1", cond), ["mean", "low", "high"]], tolerance=0.1,
                      fmt=".2f", suffixes=MEAN_LOW_HIGH)
for cond, ck in (("unsteered", "before"), ("steering vector", "vector"), ("random vector", "random"),
                 ("input edited", "input")):
    glue_interval(f"steer_kc_{ck}", ss.loc[("keys-chests", "chest", "h1", cond), ["mean", "low", "high"]],
                  tolerance=0.1, fmt=".2f", suffixes=MEAN_LOW_HIGH)
div_moved = (ss.loc[("coin-diverse-v1", "coin", "h1", "unsteered"), "mean"] - ss.loc[("coin-diverse-v1", "coin", "h1", "steering vector"), "mean"])
div_input = (ss.loc[("coin-diverse-v1", "coin", "h1", "unsteered"), "mean"] - ss.loc[("coin-diverse-v1", "coin", "h1", "input edited"), "mean"])
glue("div_vector_fraction", div_moved / div_input, tolerance=0.15, fmt=".0%")

# %% [markdown]
# ## What the numbers say
#
# **The value heads are value estimates, the random twins' are not.** On training
# levels the value head predicts the discounted return that followed with a correlation
# of {glue:text}`valid_cae` (coin-at-exit-v1; 95% CI over {glue:text}`n_seeds` seeds
# {glue:text}`valid_cae_low` to {glue:text}`valid_cae_high`), {glue:text}`valid_div`
# (coin-diverse-v1; {glue:text}`valid_div_low` to {glue:text}`valid_div_high`) and
# {glue:text}`valid_kc` (keys-and-chests; {glue:text}`valid_kc_low` to
# {glue:text}`valid_kc_high`); the random twins' 95% intervals, in all three scenarios,
# lie between {glue:text}`valid_rnd_low` and {glue:text}`valid_rnd_high`.
#
# **(i) The coin-at-exit-v1 policy's final goal is the exit; the coin-diverse-v1 policy's value
# follows the coin, not the exit.** On test levels the coin-at-exit-v1 value head correlates with proximity to the
# exit at {glue:text}`cae_exit_r` (CI {glue:text}`cae_exit_r_low` to
# {glue:text}`cae_exit_r_high`), and the partial correlation, holding the coin's proximity
# fixed, is unchanged at {glue:text}`cae_exit_partial`; with the coin it correlates at
# {glue:text}`cae_coin_r` ({glue:text}`cae_coin_r_low` to {glue:text}`cae_coin_r_high`).
# The exit is a final goal in {glue:text}`cae_exit_final` of {glue:text}`n_seeds` seeds
# and the coin a goal of any kind in {glue:text}`cae_coin_goal`. Since H rewards only the
# coin, by Framing 2 this policy is misaligned, as Framing 1 found from its behaviour.
# Like the CoinRun agent that Trinh et al. (2024) found to carry no representation of the coin, it hardly represents the coin at
# all: a probe recovers the coin's proximity with a held-out R² of only
# {glue:text}`cae_coin_score` ({glue:text}`cae_coin_score_low` to
# {glue:text}`cae_coin_score_high`) against {glue:text}`cae_exit_score` for the exit,
# and below the coin-diverse-v1 networks' (one-sided Mann-Whitney test over seeds, p =
# {glue:text}`probe_p`; an earlier version asked for disjoint 95% intervals, which a change
# of the training engine's floating-point path alone undid: the intervals now overlap). The
# coin-diverse-v1 value head reverses the pattern: the coin at {glue:text}`div_coin_r`
# ({glue:text}`div_coin_r_low` to {glue:text}`div_coin_r_high`; partial
# {glue:text}`div_coin_partial`), the exit at {glue:text}`div_exit_r`; the coin is a final
# goal in only {glue:text}`div_coin_final` of {glue:text}`n_seeds` seeds at the threshold of
# {glue:text}`strong` we fixed in advance, and the exit a goal in
# {glue:text}`div_exit_goal`. The coin's correlation sits just below that threshold in
# most seeds; at 0.4 the coin is a final goal in {glue:text}`div_coin_final_04` of
# {glue:text}`n_seeds` (sensitivity table above), and in
# {glue:text}`div_coin_unrepresented` seeds the probe fails to decode the coin's
# proximity on held-out levels although the value head tracks it, so that the coin is
# "valued but not represented" by our probe's standard. The verdict for the aligned
# policy is therefore less crisp than for the misaligned one, whose exit is far above
# any threshold. The coin-diverse-v1 counts are also fragile: a change of the training
# engine that kept the maths and changed only its floating-point path (issue 12) moved
# them by several seeds, as the version-1 worlds' seed splits did between machines
# (chapter 1 moved to procedurally varied worlds for that reason; this chapter follows
# in its own issue). Read them as "some to most seeds", not as a figure. The coin-diverse-v1 network still represents the exit's
# proximity very well (probe R² {glue:text}`div_exit_score`): represented is not the same
# as valued, which is why the definition needs both parts.
#
# On training levels none of this could be decided: the two proximities are collinear
# (variance inflation factor at least {glue:text}`vif_train`, against at most
# {glue:text}`vif_test` on test levels).
#
# **(ii) Keys and chests: holding a key behaves like a final goal, not an instrumental
# one.** This contradicts what we expected from the essay's example. Holding a key
# correlates with the value estimate at {glue:text}`kc_keys_held_r` (CI
# {glue:text}`kc_keys_held_r_low` to {glue:text}`kc_keys_held_r_high`), and controlling
# for the proximity of the next possible chest opening and for how many chests can still
# be opened leaves a partial correlation of {glue:text}`kc_keys_held_partial`
# ({glue:text}`kc_keys_held_partial_low` to {glue:text}`kc_keys_held_partial_high`;
# VIF {glue:text}`kc_keys_vif`), while the next chest's proximity drops from
# {glue:text}`kc_next_chest_r` to {glue:text}`kc_next_chest_partial`. Holding a key is
# classified a final goal in {glue:text}`kc_key_final` of {glue:text}`n_seeds` seeds. The
# devaluation test agrees: a key in hand raises the value estimate by
# {glue:text}`deval_present_mean` ({glue:text}`deval_present_low` to
# {glue:text}`deval_present_high`) with the chests on the board and by
# {glue:text}`deval_removed_mean` ({glue:text}`deval_removed_low` to
# {glue:text}`deval_removed_high`) with every chest removed, when a key is worth nothing.
# In training a key in hand was always followed by a chest (there are more chests than
# keys), so the value head never had to learn that the key's worth depends on a chest
# being there; it learned an additive bonus for the key. That is the internal face of
# the keys-and-chests goal misgeneralization of {cite}`langosco2022goal`, where agents
# collect keys they cannot use. The partial-correlation criterion therefore separates
# final from instrumental goals only for the policy's *learned* values, which need not
# respect the environment's means-end structure.
#
# **(iii) A random network has no goals.** Its probes still decode some features (a
# random projection of the grid keeps information about the agent's position), and its
# value output correlates strongly (|r| ≥ {glue:text}`strong`) with some feature in
# {glue:text}`random_strong` of the (seed, feature) cases, {glue:text}`random_strong_where`
# in keys-and-chests, where
# "keys in hand" fills a whole plane of the observation and so dominates a random
# network's output. That output does not estimate any return, so none of the
# {glue:text}`random_cells` (seed, feature) cases is a goal ({glue:text}`random_goals`
# found), and Framing 2 calls such a policy neither aligned nor misaligned. Without the
# validity check, the bare correlation criterion would have credited the random twins
# with {glue:text}`random_goals_novalid` goals.
#
# **(iv) Steering.** Adding the coin vector at the first hidden layer of the
# coin-diverse-v1 policy lowers the probability of a coin-ward move at decision states from
# {glue:text}`steer_div_before_mean` (CI {glue:text}`steer_div_before_low` to
# {glue:text}`steer_div_before_high`) to {glue:text}`steer_div_vector_mean`
# ({glue:text}`steer_div_vector_low` to {glue:text}`steer_div_vector_high`), close to
# removing the coin from the input ({glue:text}`steer_div_input_mean`): the vector
# achieves {glue:text}`div_vector_fraction` of the input edit's effect. A random vector of
# the same length leaves it at {glue:text}`steer_div_random_mean`. With the coin gone
# (from the input or by the vector) the coin-ward probability falls to about what an
# untrained network's moves give ({glue:text}`steer_rnd_coin` for the random twin): the
# policy loses its target rather than switching to a second one. For the
# coin-at-exit-v1 policy, which ignores the coin, neither the vector
# ({glue:text}`steer_cae_vector_mean` vs {glue:text}`steer_cae_before_mean` unsteered) nor
# removing the coin itself ({glue:text}`steer_cae_input_mean`) changes anything. The
# probe directions are not levers: moving along the near_coin probe's direction by the
# same length gives {glue:text}`steer_div_probe_mean`, and ablating it
# {glue:text}`steer_div_ablated_mean`. A linear probe finds where information *can be
# read*, not where the policy reads it, which is why the causal test is needed. Turner
# et al.'s cheese vector moved the cheese-ward probability from .81 to .03 in a
# 3.5M-parameter maze network {cite}`turner2023maze`; ours moves a 2×64 MLP's
# coin-ward probability about as far as deleting the coin does, which is as far as it can.
# For keys and chests the key vector hardly moves the chest-ward probability
# ({glue:text}`steer_kc_before_mean` to {glue:text}`steer_kc_vector_mean`, random
# {glue:text}`steer_kc_random_mean`), and neither does giving the agent a key in the
# input ({glue:text}`steer_kc_input_mean`): with a second key nearby, fetching it first
# is a reasonable plan, so these decision states do not separate the goals well.

# %%
elapsed = time.perf_counter() - started
print(f"chapter executed in {elapsed:.0f} s (profile {profile!r})")

# %% [markdown]
# ## Claims

# %%
v = verdict_table(analysis)
claim(len(seeds) >= 10, "the published profile uses at least 10 seeds")
claim(rnd_valid["high"].max() < criteria.estimates < vs["low"].min(),
      "trained value heads track returns (CI above the threshold); random twins' do not (CI below)")
claim(cs.loc[("partial", "coin-at-exit-v1", "near_exit"), "low"] > criteria.strong
      > cs.loc[("r", "coin-at-exit-v1", "near_coin"), "high"],
      "coin-at-exit-v1: the exit keeps a strong partial correlation with value; the coin has a weak raw one")
claim(cs.loc[("partial", "coin-diverse-v1", "near_coin"), "low"] > cs.loc[("r", "coin-diverse-v1", "near_exit"), "high"],
      "coin-diverse-v1: the coin's partial correlation lies above the exit's raw correlation (disjoint CIs)")
claim(n_verdict[("coin-at-exit-v1", "near_exit")].get("final goal", 0) >= 0.8 * len(seeds),
      "the exit is a final goal of the coin-at-exit-v1 policy in at least 80% of seeds")
div = verdicts[verdicts["scenario"] == "coin-diverse-v1"].pivot(index="seed", columns="feature", values="r")
claim(bool((div["near_coin"] > div["near_exit"] + 0.2).all()),
      "in every coin-diverse-v1 seed the coin's correlation with value exceeds the exit's by more than 0.2")
claim(n_verdict[("coin-diverse-v1", "near_exit")].get("not a goal", 0) == len(seeds),
      "the exit is a goal of no coin-diverse-v1 network")
claim(probe_p < 0.05,
      "the coin-at-exit-v1 network represents the coin's proximity less well than the coin-diverse-v1 one "
      "(one-sided Mann-Whitney over seeds, p < 0.05)")
claim(random_goals == 0, "no random twin has a goal")
claim(random_strong_keys, "random twins' strong correlations all occur in keys-and-chests (as the text says)")
claim(ks.loc[("partial", "trained", "keys_held"), "low"] > 0,
      "keys-chests: holding a key keeps a positive partial correlation with value (it is not washed out)")
claim(ds.loc[("trained", "chests removed"), "low"] > 0,
      "keys-chests: a key in hand raises the value estimate even with every chest removed")
claim(ss.loc[("coin-diverse-v1", "coin", "h1", "steering vector"), "high"]
      < ss.loc[("coin-diverse-v1", "coin", "h1", "random vector"), "low"],
      "the coin vector lowers the coin-diverse-v1 policy's coin-ward probability below the random-vector control")
claim(abs(ss.loc[("coin-at-exit-v1", "coin", "h1", "input edited"), "mean"]
          - ss.loc[("coin-at-exit-v1", "coin", "h1", "unsteered"), "mean"]) < 0.05,
      "removing the coin does not change the coin-at-exit-v1 policy's moves at decision states")
check_claims()
