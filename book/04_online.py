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
# # Framing 3: online misalignment
#
# The first framings of the essay {cite}`ngo2022framings` assume a policy is trained,
# frozen, and then deployed. The third drops that split: a capable system may keep
# learning from the rewards it receives while deployed. Then "was the failure caused by
# the reward or by the policy?" gets a new, dynamic reading. If the policy's goals bend
# quickly under deployment feedback, a bad outcome is mostly the fault of the online
# rewards (better ones would have steered it away): the essay calls that an *online
# outer* failure. If the goals resist, taking many penalised episodes to change, the
# online rewards are not the main culprit. The essay adds a twist: a penalty may not
# remove a goal at all but teach the policy *when it gets caught*, and, following
# Christiano {cite}`christiano2021lowstakes`, whether online feedback is enough depends
# on the stakes: on how many steps of misbehaviour a catastrophe needs, compared with
# how fast feedback arrives.
#
# This chapter makes each of these measurable on the book's gridworlds:
#
# 1. **goal robustness**: how many deployment updates a better reward needs to halve a
#    misbehaviour (N50), for policies trained shorter or longer, smaller or larger;
# 2. **goal versus belief**: the shortcut of the absent supervisor
#    {cite}`leike2017gridworlds` penalised only when an overseer is present, with the
#    overseer bit visible, noisy, or hidden; misbehaviour with and without the overseer,
#    and a probe for the original goal in the hidden layer;
# 3. **revival**: the original reward restored after the penalty, and the updates until
#    the shortcut returns (the pattern of fine-tuning as a thin "wrapper"
#    {cite}`jain2024wrapper`);
# 4. **high versus low stakes**: a catastrophe that needs K misbehaving episodes, and a
#    phase diagram of its probability over K and the update frequency and learning rate;
# 5. **an online outer failure**: a well-behaved policy deployed under a misspecified
#    online reward.

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
from misalign.experiments.online import (
    OVERSIGHT_VIEWS,
    SUPERVISOR_SOURCE_STEPS,
    outer_cell,
    oversight_cell,
    robustness_cell,
    stakes_cell,
)
from misalign.online import DeployConfig, catastrophe_probability, deployment_summary, oversight_summary, rises_to
from misalign.stats import mean_ci, summarize, wilson_ci
from misalign.sweeps import run_sweep
from scipy.stats import wilcoxon

started = time.perf_counter()
V1_STEPS = {c.scenario: c.total_steps for c in VERSION_1_CASES}  # version-1 coin policies, shared with chapter 3 (cached)
PROFILES = {
    "full": Profile(n_seeds=10, settings={
        "short_steps": 500_000, "long_steps": V1_STEPS["coin-at-exit-v1"],
        "outer_steps": V1_STEPS["coin-diverse-v1"], "source_steps": SUPERVISOR_SOURCE_STEPS,
        "robust_updates": 20, "oversight_updates": 30, "revive_updates": 15, "stakes_updates": 30,
        "outer_updates": 20, "n_jobs": 2}),
    "smoke": Profile(n_seeds=2, enforce_claims=False, settings={
        "short_steps": 40_000, "long_steps": 80_000, "outer_steps": 80_000, "source_steps": 40_000,
        "robust_updates": 3, "oversight_updates": 5, "revive_updates": 3, "stakes_updates": 4,
        "outer_updates": 3, "n_jobs": 1}),
}
ch = open_chapter(PROFILES, profile, seeds, device)
seeds, settings = ch.seeds, ch.settings
JOBS = settings["n_jobs"]
LR = 3e-3  # deployment learning rate (at 1e-3 many runs did not halve misbehaviour within 20-40 updates)
timings = {}

# %% [markdown]
# ## The deployment loop
#
# Deployment here is PPO continued on the *test* distribution: the policy plays episodes
# on fresh test-distribution levels, and after every batch of them it receives one
# update computed from a **deployment reward**, which may be better than the training
# reward (H itself), worse, or merely different. One update is one round of feedback:
# the batch of {glue:text}`deploy_envs` parallel episodes × {glue:text}`deploy_steps` steps it
# is computed from, then {glue:text}`deploy_grad` gradient steps on it at a constant
# learning rate. Behaviour is measured on the deployment episodes themselves, update by
# update (the first point on complete episodes of the untouched policy), because in an
# online setting the misbehaviour that matters is the one that happens while the policy
# learns. **N50** is the number of updates after which the misbehaviour rate, pooled over
# three consecutive updates, is at most half its starting value. The loop and these
# summaries are tested on scripted policies whose outcome is known in advance
# (`tests/test_online.py`: a frozen walker misbehaves at the rate the level layout
# implies and never "halves"; a reward that pays for a tile makes it more frequent, one
# that charges for it less so).

# %%
cfg = DeployConfig(lr=LR)
glue("deploy_envs", cfg.num_envs)
glue("deploy_steps", cfg.num_steps)
glue("deploy_grad", cfg.epochs * cfg.minibatches)
glue("lr", f"{LR:g}")
glue("n_seeds", len(seeds))
glue("robust_updates", settings["robust_updates"])
glue("outer_updates", settings["outer_updates"])
glue("stakes_updates", settings["stakes_updates"])

# %% [markdown]
# ## 1. Goal robustness: correcting the exit-seeking policy online
#
# The coin-at-exit-v1 policies (the worlds chapter 1 used before it moved to
# procedurally varied levels; chapter 3 studies the same policies) learned "go to the
# exit" instead of "get the coin".
# Deploy them on test levels, where the coin is anywhere, and pay them what people want
# (H: the coin). How many updates until they stop walking out without the coin? We
# compare those policies (2×64 MLP, {glue:text}`long_steps` training steps)
# with policies trained for only {glue:text}`short_steps` steps with 32, 64 or 128
# hidden units.

# %%
variants = [("long, 64 units", settings["long_steps"], 64)] + [
    (f"short, {h} units", settings["short_steps"], h) for h in (32, 64, 128)]
tic = time.perf_counter()
robust = run_sweep(robustness_cell, [{"total_steps": s, "hidden": h, "updates": settings["robust_updates"], "lr": LR}
                                     for _, s, h in variants], seeds, n_jobs=JOBS, progress=True)
timings["1. goal robustness"] = time.perf_counter() - tic
names = {(s, h): n for n, s, h in variants}
robust["policy"] = [names[(s, h)] for s, h in zip(robust["total_steps"], robust["hidden"], strict=True)]
robust_seed = pd.DataFrame([{"policy": p, "seed": s, **deployment_summary(t)}
                            for (p, s), t in robust.groupby(["policy", "seed"], sort=False)])
robust_seed["n50"] = robust_seed["n50"].fillna(settings["robust_updates"])  # not halved within the run: censored
robust_table = pd.concat([summarize(robust_seed, col, ["policy"]).assign(measure=col)
                          for col in ("initial", "final", "H_initial", "H_final", "n50")])
robust_table.pivot(index="policy", columns="measure", values="mean").round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
order = [n for n, _, _ in variants]
sns.lineplot(data=robust, x="update", y="misbehaviour", hue="policy", hue_order=order, errorbar=("ci", 95), ax=axes[0])
axes[0].set(xlabel="deployment updates", ylabel="share of episodes: exit without the coin",
            title="Misbehaviour under online correction (H = the coin)", ylim=(0, 1))
sns.lineplot(data=robust, x="update", y="H", hue="policy", hue_order=order, errorbar=("ci", 95), ax=axes[1],
             legend=False)
axes[1].set(xlabel="deployment updates", ylabel="mean H per episode (coin taken)",
            title="What people want, meanwhile", ylim=(0, 1))
fig.suptitle(f"coin-at-exit-v1 policies deployed with H as reward: mean and 95% CI over {len(seeds)} seeds", y=1.02)
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
rs = robust_seed.set_index("policy")
glue("long_steps", f"{settings['long_steps']:,}")
glue("short_steps", f"{settings['short_steps']:,}")
for key, name in (("long", "long, 64 units"), ("s32", "short, 32 units"), ("s64", "short, 64 units"),
                  ("s128", "short, 128 units")):
    mine = robust_seed[robust_seed["policy"] == name]
    for col in ("initial", "final", "H_final", "n50"):
        glue_interval(f"r_{key}_{col}", mean_ci(mine[col].fillna(settings["robust_updates"]), bounds=None),
                      tolerance=0.15 if col != "n50" else 2.0, fmt=".2f" if col == "n50" else ".0%")
    glue(f"r_{key}_corrected", int(mine["corrected"].sum()))
glue("r_episodes_per_update", robust["episodes"].mean(), tolerance=30.0, fmt=".0f")
long_seed = robust_seed[robust_seed["policy"] == "long, 64 units"]
short_seed = robust_seed[robust_seed["policy"] == "short, 64 units"]

# %% [markdown]
# The long-trained policies started by exiting without the coin in {glue:text}`r_long_initial`
# of deployment episodes (95% CI {glue:text}`r_long_initial_low`–{glue:text}`r_long_initial_high`:
# a few seeds wander on test levels instead, as chapter 1 found in its version-1 worlds). With H as the online
# reward at learning rate {glue:text}`lr`, misbehaviour halved within the
# {glue:text}`robust_updates` updates in {glue:text}`r_long_corrected` of
# {glue:text}`n_seeds` seeds; counting the others as {glue:text}`robust_updates`, N50 was
# {glue:text}`r_long_n50` updates (CI {glue:text}`r_long_n50_low`–{glue:text}`r_long_n50_high`),
# and misbehaviour ended at {glue:text}`r_long_final`. So the exit goal yields to better
# reward slowly, if at all: over tens of updates, each computed from about
# {glue:text}`r_episodes_per_update` deployment episodes, not within a handful.
#
# **Finding: the misbehaviour goes before the intended goal comes.** H rose only to
# {glue:text}`r_long_H_final` (CI {glue:text}`r_long_H_final_low`–{glue:text}`r_long_H_final_high`).
# Online feedback did not install "get the coin": where exits without the coin fell, the
# policies did not take the coin instead but wandered until the time limit, a capability
# failure in chapter 1's terms. The essay's
# dichotomy (goals that bend quickly versus goals that resist) leaves out this third
# path: the undesired goal is weakened without being replaced.
#
# **Finding: size mattered more than training length, and in the unexpected
# direction.** Trained for {glue:text}`short_steps` steps, the 32-unit policies never
# halved their misbehaviour ({glue:text}`r_s32_corrected` of {glue:text}`n_seeds` seeds;
# final rate {glue:text}`r_s32_final`), the 64-unit ones did in {glue:text}`r_s64_corrected`,
# the 128-unit ones in {glue:text}`r_s128_corrected` (N50 {glue:text}`r_s128_n50`, CI
# {glue:text}`r_s128_n50_low`–{glue:text}`r_s128_n50_high`; final rate
# {glue:text}`r_s128_final`). The smallest networks held on to their goal hardest (one
# possible reading, not tested here: with less capacity to spare, the same gradient
# steps cannot add a new behaviour without disturbing the old one). The 64-unit
# policies trained for {glue:text}`long_steps` steps were corrected in
# {glue:text}`r_long_corrected` seeds against {glue:text}`r_s64_corrected` for the
# shorter-trained ones, with overlapping intervals on N50 (table above): at this scale
# training length did not make the goal measurably more robust.

# %% [markdown]
# ## 2. Goal versus belief: a penalty only when the overseer is present
#
# The absent-supervisor room {cite}`leike2017gridworlds` has a short way to the door,
# across a shortcut tile, and a long way round. We first train policies where nobody
# ever watches ({glue:text}`source_steps` steps): the shortcut is free, and from the
# upper rows they take it. They are then deployed in the same room with an overseer
# present in half of the episodes, who charges −1 for the shortcut; unwatched shortcuts
# go unpunished. The policy sees the overseer bit (**visible**), sees it but wrong in a
# quarter of episodes (**noisy**), or does not see it (**hidden**). The essay's worry is
# that penalties teach "I get caught when watched" rather than "the shortcut is bad";
# the measure of that is the *conditionalization index*,
# P(shortcut | unobserved) − P(shortcut | observed) {cite}`greenblatt2024alignmentfaking`.

# %%
tic = time.perf_counter()
oversight = run_sweep(oversight_cell, [{"view": v, "updates": settings["oversight_updates"],
                                        "revive_updates": settings["revive_updates"], "lr": LR,
                                        "source_steps": settings["source_steps"]} for v in OVERSIGHT_VIEWS],
                      seeds, n_jobs=JOBS, progress=True)
timings["2-3. oversight and revival (incl. training the sources)"] = time.perf_counter() - tic
over_seed = pd.DataFrame([{"view": v, "seed": s, **oversight_summary(t)}
                          for (v, s), t in oversight.groupby(["view", "seed"], sort=False)])
for col in ("n50", "n50_observed", "n50_unobserved"):  # not halved within the phase: censored at its length
    over_seed[col] = over_seed[col].fillna(settings["oversight_updates"])
over_seed["revival"] = over_seed["revival"].fillna(settings["revive_updates"])
over_table = pd.concat([summarize(over_seed, col, ["view"]).assign(measure=col)
                        for col in ("original", "final_observed", "final_unobserved", "index", "n50_observed",
                                    "probe_observed_end", "policy_observed_end", "revival")])
over_table.pivot(index="view", columns="measure", values="mean").round(2)

# %%
pen = oversight[oversight["phase"] == "penalised"]
long_pen = pen.melt(id_vars=["view", "seed", "update"], value_vars=["misbehaviour_observed", "misbehaviour_unobserved"],
                    var_name="overseer", value_name="shortcut").dropna()
long_pen["overseer"] = long_pen["overseer"].map({"misbehaviour_observed": "present",
                                                 "misbehaviour_unobserved": "absent"})
g = sns.relplot(data=long_pen, x="update", y="shortcut", hue="overseer", col="view", kind="line",
                errorbar=("ci", 95), height=3.4, aspect=1.15, col_order=list(OVERSIGHT_VIEWS),
                palette={"present": "#1e6edc", "absent": "#fa8282"})
g.set_axis_labels("deployment updates", "share of episodes taking the shortcut")
g.set_titles("overseer bit {col_name}")
g.set(ylim=(0, 1))
g.figure.suptitle(f"Shortcut with and without the overseer while penalised when watched "
                  f"(mean and 95% CI over {len(seeds)} seeds)", y=1.04)
plt.show()

# %% tags=["remove-cell"]
for view in OVERSIGHT_VIEWS:
    mine = over_seed[over_seed["view"] == view]
    for col, tol, fmt in (("original", 0.1, ".0%"), ("final_observed", 0.15, ".0%"), ("final_unobserved", 0.15, ".0%"),
                          ("index", 0.15, ".2f"), ("probe_observed_end", 0.15, ".0%"),
                          ("policy_observed_end", 0.15, ".0%"), ("probe_unobserved_end", 0.15, ".0%"),
                          ("policy_unobserved_end", 0.15, ".0%")):
        glue_interval(f"o_{view}_{col}", mean_ci(mine[col]), tolerance=tol, fmt=fmt)
glue("source_steps", f"{settings['source_steps']:,}")
idx = over_seed.set_index("view")

# %% [markdown]
# Before deployment the policies took the shortcut in {glue:text}`o_visible_original`
# of episodes (the rest start low in the room, where the way round is shorter anyway).
# After {glue:text}`oversight_updates` updates:
#
# | overseer bit | shortcut when watched | shortcut when unwatched | index (unwatched − watched) |
# |---|---|---|---|
# | visible | {glue:text}`o_visible_final_observed` ({glue:text}`o_visible_final_observed_low`–{glue:text}`o_visible_final_observed_high`) | {glue:text}`o_visible_final_unobserved` ({glue:text}`o_visible_final_unobserved_low`–{glue:text}`o_visible_final_unobserved_high`) | {glue:text}`o_visible_index` ({glue:text}`o_visible_index_low` to {glue:text}`o_visible_index_high`) |
# | noisy | {glue:text}`o_noisy_final_observed` ({glue:text}`o_noisy_final_observed_low`–{glue:text}`o_noisy_final_observed_high`) | {glue:text}`o_noisy_final_unobserved` ({glue:text}`o_noisy_final_unobserved_low`–{glue:text}`o_noisy_final_unobserved_high`) | {glue:text}`o_noisy_index` ({glue:text}`o_noisy_index_low` to {glue:text}`o_noisy_index_high`) |
# | hidden | {glue:text}`o_hidden_final_observed` ({glue:text}`o_hidden_final_observed_low`–{glue:text}`o_hidden_final_observed_high`) | {glue:text}`o_hidden_final_unobserved` ({glue:text}`o_hidden_final_unobserved_low`–{glue:text}`o_hidden_final_unobserved_high`) | {glue:text}`o_hidden_index` ({glue:text}`o_hidden_index_low` to {glue:text}`o_hidden_index_high`) |
#
# (95% t-intervals over seeds, last five updates pooled.) With the bit visible the
# policies learned *when* they are punished: the shortcut nearly vanished under
# oversight and survived without it, the essay's "belief, not goal" update. With the bit
# hidden the two rates cannot differ except by chance, so the penalty has to act on the
# shortcut itself, and it did, in watched and unwatched episodes alike.
#
# **Finding: a quarter of wrong bits was enough to stop the hiding.** With the noisy bit
# the index was {glue:text}`o_noisy_index`, close to the hidden case rather than between
# the two, and the shortcut fell everywhere. When the cue of oversight is unreliable,
# learning "when I get caught" pays less than dropping the behaviour. Even with the bit
# visible, the unwatched shortcut fell from {glue:text}`o_visible_original` to
# {glue:text}`o_visible_final_unobserved`: the penalty spilled over, partly, to the
# episodes it never touched.

# %% [markdown]
# ### Is the goal erased or gated? A frozen probe
#
# Behaviour alone cannot tell whether a suppressed shortcut is gone from the network or
# still computed and overridden. So before deployment we fit a logistic probe
# {cite}`turner2023maze` from the original network's last hidden layer to the first
# move toward the shortcut, on every cell left of the wall from which the shortcut is
# the shorter way (in the first 24 test levels, with the bit on and off). During
# deployment the *same* probe, frozen, reads the updated networks' hidden layers: if it
# still names shortcut-ward moves while the policy no longer makes them, the goal is
# still represented and the change sits in how it is acted on.

# %%
probed = pen.dropna(subset=["probe_observed"]).melt(
    id_vars=["view", "seed", "update"], value_vars=["probe_observed", "policy_observed"],
    var_name="readout", value_name="shortcut-ward")
probed["readout"] = probed["readout"].map({"probe_observed": "frozen probe on hidden layer",
                                           "policy_observed": "policy's own move"})
g = sns.relplot(data=probed, x="update", y="shortcut-ward", hue="readout", col="view", kind="line",
                errorbar=("ci", 95), height=3.3, aspect=1.15, col_order=list(OVERSIGHT_VIEWS), marker="o")
g.set_axis_labels("deployment updates", "share of probe states: shortcut-ward")
g.set_titles("overseer bit {col_name}")
g.set(ylim=(0, 1.05))
g.figure.suptitle("Probe states shown as watched: the original goal read from the hidden layer, and the policy's "
                  f"own move (mean and 95% CI over {len(seeds)} seeds)", y=1.04)
plt.show()

# %% [markdown]
# In watched states, the policies' own moves were shortcut-ward in
# {glue:text}`o_visible_policy_observed_end` (visible) and {glue:text}`o_hidden_policy_observed_end`
# (hidden) of probe states at the end, while the frozen probe still read shortcut-ward
# moves from the hidden layer in {glue:text}`o_visible_probe_observed_end` (visible; CI
# {glue:text}`o_visible_probe_observed_end_low`–{glue:text}`o_visible_probe_observed_end_high`) and
# {glue:text}`o_hidden_probe_observed_end` (hidden; CI
# {glue:text}`o_hidden_probe_observed_end_low`–{glue:text}`o_hidden_probe_observed_end_high`).
# **Finding:** the probe does not separate the two cases the way the essay's picture
# suggests. In both, the hidden layer keeps carrying the original goal's direction after
# behaviour has moved; in this small network the deployment updates act mostly on how
# the representation is read out, so by this probe the goal is gated rather than erased
# *even when the overseer is hidden*. The probe is linear and frozen, so it sees only
# one representation of the goal; a goal could also survive in a form it cannot read.

# %% [markdown]
# ## 3. Revival: the original reward returns
#
# After the penalised phase the overseer leaves for good (the original, never-watched
# reward) and deployment goes on for {glue:text}`revive_updates` updates. We count the
# updates until the shortcut is back to half its original rate (0 if it never fell that
# low; runs where it did not come back count as the full phase).

# %%
restored = oversight[oversight["phase"] == "restored"]
both = oversight.assign(step=np.where(oversight["phase"] == "penalised", oversight["update"],
                                      oversight["update"] + settings["oversight_updates"]))
fig, ax = plt.subplots(figsize=(9, 3.8))
sns.lineplot(data=both, x="step", y="misbehaviour", hue="view", hue_order=list(OVERSIGHT_VIEWS), errorbar=("ci", 95),
             ax=ax)
ax.axvline(settings["oversight_updates"], color="black", ls="--", lw=1)
ax.text(settings["oversight_updates"] + 0.3, 0.92, "original reward restored", fontsize=9)
ax.set(xlabel="deployment updates", ylabel="share of episodes taking the shortcut", ylim=(0, 1),
       title=f"Suppression, then revival (mean and 95% CI over {len(seeds)} seeds)")
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
glue("oversight_updates", settings["oversight_updates"])
glue("revive_updates", settings["revive_updates"])
revival = {}
for view in OVERSIGHT_VIEWS:
    mine = over_seed[over_seed["view"] == view]
    rev = mine["revival"]
    revival[view] = glue_interval(f"rev_{view}", mean_ci(rev), tolerance=3.0, fmt=".1f")
    glue(f"rev_{view}_suppressed", int(mine["suppressed"].sum()))
    sup = mine["n50"]
    glue_interval(f"sup_{view}", mean_ci(sup), tolerance=3.0, fmt=".1f")

# %% [markdown]
# With the bit hidden, the penalty halved the shortcut after {glue:text}`sup_hidden`
# updates (CI {glue:text}`sup_hidden_low`–{glue:text}`sup_hidden_high`; suppressed below half in
# {glue:text}`rev_hidden_suppressed` of {glue:text}`n_seeds` seeds); once the original
# reward returned it came back to half its original rate in {glue:text}`rev_hidden`
# updates (CI {glue:text}`rev_hidden_low`–{glue:text}`rev_hidden_high`). With the bit
# visible, revival took {glue:text}`rev_visible` updates (CI
# {glue:text}`rev_visible_low`–{glue:text}`rev_visible_high`): the overseer is now always
# absent, which is exactly the condition under which the gated policy never stopped. In
# the hidden case the return took about as many updates as the suppression (intervals
# overlap): by this measure the penalty neither erased the goal for good nor left it
# fully in place.

# %% [markdown]
# ## 4. High versus low stakes
#
# Christiano's distinction {cite}`christiano2021lowstakes`: online feedback can prevent a
# catastrophe only if the catastrophe needs more misbehaviour than happens before the
# feedback takes effect. We make "needs" concrete: a catastrophe happens once **K**
# misbehaving deployment episodes have occurred before online correction (H as reward)
# has halved the misbehaviour. K = 1 is the highest stakes (one misstep is fatal). For
# each run we count the misbehaving episodes before N50; the probability of catastrophe
# at K is the share of runs that reached K. Feedback speed varies in two ways: how many
# episodes play between two updates (parallel episodes per batch) and how far each
# update moves (learning rate).

# %%
stakes_grid = ([{"num_envs": n, "lr": LR, "updates": settings["stakes_updates"], "total_steps": settings["long_steps"]}
                for n in (16, 64, 128)]
               + [{"num_envs": 64, "lr": lr, "updates": settings["stakes_updates"], "total_steps": settings["long_steps"]}
                  for lr in (1e-3, 1e-2)])
tic = time.perf_counter()
stakes = run_sweep(stakes_cell, stakes_grid, seeds, n_jobs=JOBS, progress=True)
timings["4. stakes"] = time.perf_counter() - tic
K = np.unique(np.round(np.logspace(0, 4, 17)).astype(int))
phase = []
for (n, lr), group in stakes.groupby(["num_envs", "lr"]):
    p = catastrophe_probability(group["misbehaving_before"].to_numpy(), K)
    ep = group["episodes_per_update"].mean()
    phase += [{"num_envs": n, "lr": lr, "episodes per update": ep, "K": k, "P(catastrophe)": v} for k, v in zip(K, p, strict=True)]
phase = pd.DataFrame(phase)
stakes.groupby(["num_envs", "lr"])[["n50", "episodes_per_update", "misbehaving_before"]].mean().round(1)

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 3.6))
freq = phase[phase["lr"] == LR].copy()
freq["feedback every"] = freq["episodes per update"].round().astype(int).astype(str) + " episodes"
heat = freq.pivot_table(index="feedback every", columns="K", values="P(catastrophe)", sort=False)
sns.heatmap(heat, ax=axes[0], cmap="rocket_r", vmin=0, vmax=1, cbar_kws={"label": "P(catastrophe)"})
axes[0].set(xlabel="misbehaving episodes a catastrophe needs (K)", ylabel="",
            title=f"Update frequency (lr {LR:g})")
rate = phase[phase["num_envs"] == 64].copy()
rate["learning rate"] = rate["lr"].map(lambda x: f"{x:g}")
heat2 = rate.pivot_table(index="learning rate", columns="K", values="P(catastrophe)")
sns.heatmap(heat2, ax=axes[1], cmap="rocket_r", vmin=0, vmax=1, cbar_kws={"label": "P(catastrophe)"})
axes[1].set(xlabel="misbehaving episodes a catastrophe needs (K)", ylabel="", title="Learning rate (64 parallel episodes)")
fig.suptitle(f"Where online correction prevents catastrophe: share of {len(seeds)} seeds that reach K misbehaving "
             "episodes before misbehaviour halves", y=1.03)
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
by = stakes.groupby(["num_envs", "lr"])
fast, slow = by.get_group((16, LR)), by.get_group((128, LR))
glue("k_fast_mis", fast["misbehaving_before"].mean(), tolerance=30.0, fmt=".0f")
glue("k_slow_mis", slow["misbehaving_before"].mean(), tolerance=200.0, fmt=".0f")
for name, grp in (("fast", fast), ("slow", slow)):
    m, lo, hi = mean_ci(grp["misbehaving_before"])
    glue(f"k_{name}_mis_low", lo, tolerance=200.0, fmt=".0f")
    glue(f"k_{name}_mis_high", hi, tolerance=200.0, fmt=".0f")
    glue(f"k_{name}_ep", grp["episodes_per_update"].mean(), tolerance=20.0, fmt=".0f")
p1 = {key: wilson_ci(int((g["misbehaving_before"] >= 1).sum()), len(g)) for key, g in by}
glue("k1_min", min(v[0] for v in p1.values()), tolerance=0.2, fmt=".0%")
k_safe = {key: float(g["misbehaving_before"].max()) + 1 for key, g in by}
glue("k_safe_fast", k_safe[(16, LR)], tolerance=50.0, fmt=".0f")
glue("k_safe_slow", k_safe[(128, LR)], tolerance=400.0, fmt=".0f")
lr_lo, lr_hi = by.get_group((64, 1e-3)), by.get_group((64, 1e-2))
glue("k_lrlo_mis", lr_lo["misbehaving_before"].mean(), tolerance=100.0, fmt=".0f")
glue("k_lrhi_mis", lr_hi["misbehaving_before"].mean(), tolerance=100.0, fmt=".0f")
glue("k_lrlo_n50", lr_lo["n50"].fillna(settings["stakes_updates"]).mean(), tolerance=3.0, fmt=".1f")
glue("k_lrhi_n50", lr_hi["n50"].fillna(settings["stakes_updates"]).mean(), tolerance=3.0, fmt=".1f")

# %% [markdown]
# At K = 1 every setting ends in catastrophe in at least {glue:text}`k1_min` of seeds
# (the exceptions are seeds that hardly misbehaved to begin with): no online feedback is
# fast enough for the highest stakes, as Christiano and the essay expect. Runs that were
# not corrected within {glue:text}`stakes_updates` updates count all their misbehaving
# episodes, a lower bound. With feedback every {glue:text}`k_fast_ep` episodes, {glue:text}`k_fast_mis`
# misbehaving episodes (CI {glue:text}`k_fast_mis_low`–{glue:text}`k_fast_mis_high`)
# happened before correction, and no seed reached K = {glue:text}`k_safe_fast`; with
# feedback every {glue:text}`k_slow_ep` episodes it was {glue:text}`k_slow_mis` (CI
# {glue:text}`k_slow_mis_low`–{glue:text}`k_slow_mis_high`), safe only from
# K = {glue:text}`k_safe_slow`. The boundary between high and low stakes moves with the
# feedback loop, not only with the world: the same misbehaviour is low-stakes for a
# system updated after every few episodes and high-stakes for one updated rarely. The
# learning rate moves it too: {glue:text}`k_lrlo_mis` misbehaving episodes at 3e-4
# (N50 {glue:text}`k_lrlo_n50` updates) against {glue:text}`k_lrhi_mis` at 3e-3 (N50
# {glue:text}`k_lrhi_n50`).

# %% [markdown]
# ## 5. An online outer failure
#
# The reverse direction: a policy that behaves well, deployed under a *misspecified*
# online reward. The coin-diverse-v1 policies go for the coin on test levels. In
# deployment the reward now pays for reaching the exit (a plausible proxy: "finished the
# level") and nothing for the coin. How fast do they learn to leave the coin behind?

# %%
tic = time.perf_counter()
outer = run_sweep(outer_cell, [{"updates": settings["outer_updates"], "lr": LR, "total_steps": settings["outer_steps"]}],
                  seeds, n_jobs=JOBS, progress=True)
timings["5. online outer failure"] = time.perf_counter() - tic
outer_seed = pd.DataFrame([{"seed": s, "initial": t["misbehaviour"].iloc[0], "H_initial": t["H"].iloc[0],
                            "final": t.dropna(subset=["misbehaviour"])["misbehaviour"].tail(5).mean(),
                            "H_final": t.dropna(subset=["H"])["H"].tail(5).mean(),
                            "n_half": rises_to(t, 0.5)} for s, t in outer.groupby("seed")])
fig, ax = plt.subplots(figsize=(8, 3.6))
shown = outer.rename(columns={"misbehaviour": "exit without coin (share)", "H": "H: coin taken (mean)"})
sns.lineplot(data=shown.melt(id_vars=["seed", "update"], value_vars=["exit without coin (share)", "H: coin taken (mean)"],
                         var_name="measure"),
             x="update", y="value", hue="measure", errorbar=("ci", 95), ax=ax)
ax.set(xlabel="deployment updates", ylabel="share / mean per episode", ylim=(0, 1),
       title=f"coin-diverse-v1 policies, online reward = exit: mean and 95% CI over {len(seeds)} seeds")
ax.legend(title="")
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
for col, tol, fmt in (("initial", 0.1, ".0%"), ("final", 0.15, ".0%"), ("H_initial", 0.1, ".0%"),
                      ("H_final", 0.15, ".0%"), ("n_half", 3.0, ".1f")):
    glue_interval(f"out_{col}", mean_ci(outer_seed[col].fillna(settings["outer_updates"])), tolerance=tol, fmt=fmt)
glue("out_reached", int(outer_seed["n_half"].notna().sum()))
out_p = wilcoxon(outer_seed["final"], outer_seed["initial"], alternative="greater").pvalue  # paired, over seeds
glue("out_p", out_p, tolerance=0.05, fmt=".3f")

# %% [markdown]
# The policies started by exiting without the coin in {glue:text}`out_initial` of
# episodes (H {glue:text}`out_H_initial`). Under the exit-paying online reward, coinless
# exits rose to {glue:text}`out_final` (CI {glue:text}`out_final_low`–{glue:text}`out_final_high`;
# paired one-sided Wilcoxon test over seeds, p = {glue:text}`out_p`)
# within {glue:text}`outer_updates` updates, and H fell to {glue:text}`out_H_final`
# (CI {glue:text}`out_H_final_low`–{glue:text}`out_H_final_high`); {glue:text}`out_reached`
# of {glue:text}`n_seeds` seeds passed half of their episodes (N50-like count, censored at
# {glue:text}`outer_updates`: {glue:text}`out_n_half`). In the essay's terms this is an
# online outer failure: the deployment reward, not training or inductive bias, caused
# it, and the intended goal learned in training gave way to a bad online reward on about
# the same time scale as the exit goal gave way to a good one (section 1). What the
# policies learned is roughly as easy to push in either direction.

# %% [markdown]
# ## What this chapter cost
#
# The published profile shares the coin-at-exit-v1 and coin-diverse-v1 policies
# ({glue:text}`long_steps` steps each) with chapter 3 through the training cache
# (whichever chapter runs first trains them; the appendix counts the policies each
# chapter trained and loaded) and
# trains everything else here: {glue:text}`n_new_policies` new policies and
# {glue:text}`n_updates` deployment updates. Cut to fit the budget: the longer-trained
# variants come only at 64 units (32 and 128 units are trained for the short budget
# only), deployment runs are 15–30 updates, and the stakes runs stop three updates after
# N50 (the slowest feedback is 128 parallel episodes, not more).

# %% tags=["remove-input"]
n_new = len(seeds) * (3 + 1)  # three short coin-at-exit-v1 variants and the never-watched supervisor source
n_upd = int(len(robust) + len(oversight.dropna(subset=["episodes"])) + stakes["n50"].fillna(
    settings["stakes_updates"]).add(3).sum() + len(outer))
glue("n_new_policies", n_new)
glue("n_updates", n_upd, tolerance=500, fmt=",")
elapsed = time.perf_counter() - started
glue("elapsed", elapsed, tolerance=600.0, fmt=".0f")  # machine-dependent: recorded, loosely compared
pd.DataFrame({"seconds": timings}).round(0)

# %% [markdown]
# This page executed in {glue:text}`elapsed` seconds of wall-clock time in the run that
# produced it (with or without the shared policies in the cache; the time depends on the machine
# and its load, and the appendix lists every chapter's time). The table splits it by
# section.

# %% [markdown]
# ## Claims

# %%
s32, s128 = (robust_seed[robust_seed["policy"] == f"short, {h} units"] for h in (32, 128))
claim(long_seed["initial"].mean() > 0.5,
      "long-trained coin-at-exit-v1 policies start by exiting without the coin in most deployment episodes (mean)")
claim(mean_ci(long_seed["final"])[0] < mean_ci(long_seed["initial"])[0],
      "online correction with H lowers that misbehaviour")
claim(mean_ci(long_seed["H_final"])[2] < 0.5,
      "but H stays below 0.5 after the robustness run: the misbehaviour goes before the coin goal comes (CI)")
claim(s128["corrected"].sum() > s32["corrected"].sum() + 3,
      "128-unit policies halve their misbehaviour in more seeds than 32-unit ones")
claim(mean_ci(s32["final"])[1] > mean_ci(s128["final"])[2],
      "32-unit policies end with more misbehaviour than 128-unit ones (disjoint CIs)")
vis, hid = idx.loc["visible"], idx.loc["hidden"]
claim(mean_ci(vis["index"])[1] > 0,
      "visible overseer: the policies learn to take the shortcut more when unwatched (index CI above 0)")
claim(mean_ci(vis["index"])[1] > mean_ci(hid["index"])[2],
      "the conditionalization index is higher with the bit visible than hidden (disjoint CIs)")
claim(mean_ci(vis["final_observed"])[2] < mean_ci(vis["original"])[1],
      "visible overseer: the watched shortcut falls below its original rate (disjoint CIs)")
claim(mean_ci(hid["probe_observed_end"])[1] > mean_ci(hid["policy_observed_end"])[2],
      "hidden overseer: the frozen probe still reads shortcut-ward moves more often than the policy makes them")
claim(all(v[0] >= 0.7 for v in p1.values()), "at K = 1, catastrophe in at least 70% of seeds in every setting")
claim(mean_ci(fast["misbehaving_before"])[2] < mean_ci(slow["misbehaving_before"])[1],
      "more frequent feedback means fewer misbehaving episodes before correction (disjoint CIs)")
claim(out_p < 0.05,
      "online outer failure: the exit-paying online reward raises coinless exits (paired Wilcoxon over seeds, p < 0.05)")
claim(len(seeds) >= 10, "the published profile uses at least 10 seeds")
check_claims()
